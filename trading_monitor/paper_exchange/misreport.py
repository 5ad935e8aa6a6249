"""The misreport switch: a broker that says an order is cancelled while it still lives.

With `POST /control/misreport {"pending_cancel_as_canceled": true}` the order reads
(`GET /v2/orders/{id}`, `GET /v2/orders:by_client_order_id`, `GET /v2/orders`, their legs
included) report an order in `pending_cancel` as `canceled` (with a `canceled_at`), and the
listing files it with the closed orders. The order itself is untouched: it can still fill,
and the trade_updates stream and the control API tell the truth. A client that acts on the
read as the broker's final word then believes an order gone that is not: the lie the model
test needs to prove that it catches a second live entry (tests/model). Off by default; a
`/control/reset` turns it off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from aiohttp import web

from trading_monitor.paper_exchange.plumbing import VENUE, json_body, reply

if TYPE_CHECKING:
    from trading_monitor.paper_exchange.orders import Order
    from trading_monitor.paper_exchange.venue import Venue

routes = web.RouteTableDef()


@dataclass(frozen=True)
class _Switch:
    on: bool
    generation: int  # the venue's reset generation it was set in: a reset turns it off


_SWITCHES: WeakKeyDictionary[Venue, _Switch] = WeakKeyDictionary()


def set_pending_cancel_as_canceled(venue: Venue, on: bool) -> None:
    _SWITCHES[venue] = _Switch(on, venue.generation)


def pending_cancel_as_canceled(venue: Venue) -> bool:
    switch = _SWITCHES.get(venue)
    return switch is not None and switch.on and switch.generation == venue.generation


def status(venue: Venue, order: Order) -> str:
    """The status an order read reports for `order`."""
    if order.status == "pending_cancel" and pending_cancel_as_canceled(venue):
        return "canceled"
    return order.status


def order_read(venue: Venue, body: dict[str, Any]) -> dict[str, Any]:
    """An order's read body (wire.order's shape, legs included) as the switch reports it."""
    if not pending_cancel_as_canceled(venue):
        return body
    return _lie(body)


def _lie(body: dict[str, Any]) -> dict[str, Any]:
    out = dict(body)
    if out.get("status") == "pending_cancel":
        out["status"] = "canceled"
        out["canceled_at"] = out.get("canceled_at") or out.get("updated_at")
    if isinstance(out.get("legs"), list):
        out["legs"] = [_lie(leg) for leg in out["legs"]]
    return out


def _describe(venue: Venue) -> dict[str, Any]:
    return {"pending_cancel_as_canceled": pending_cancel_as_canceled(venue)}


@routes.post("/control/misreport")
async def set_misreport(request: web.Request) -> web.Response:
    """{"pending_cancel_as_canceled": true} or false."""
    body = await json_body(request)
    on = body.get("pending_cancel_as_canceled") if isinstance(body, dict) else None
    if not isinstance(on, bool):
        raise ValueError('body must be {"pending_cancel_as_canceled": true} or false')
    venue = request.app[VENUE]
    set_pending_cancel_as_canceled(venue, on)
    return reply(_describe(venue))


@routes.get("/control/misreport")
async def get_misreport(request: web.Request) -> web.Response:
    return reply(_describe(request.app[VENUE]))
