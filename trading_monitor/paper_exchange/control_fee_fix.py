"""`POST /control/fee_fix`: a posted non-trade activity (a FEE) corrected or cancelled.

{"activity_id": "...", "status": "canceled" | "correct", "amount"?: "0.03",
 "how": "in_place" | "new_activity"}

How Alpaca links a correction to the fee it changes is not documented, so both are offered:
`in_place` changes the activity's own status (and net_amount, for a correction);
`new_activity` posts a new activity of that status with the same type, symbol, order id,
sub-type and date (net_amount the new amount for a correction, the original's for a
cancellation). Cash follows: a cancellation gives the fee back, a correction the difference.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from trading_monitor.paper_exchange.plumbing import VENUE, json_body, reply
from trading_monitor.paper_exchange.wire import num

routes = web.RouteTableDef()
HOW = ("in_place", "new_activity")


@routes.post("/control/fee_fix")
async def fee_fix(request: web.Request) -> web.Response:
    body = await json_body(request)
    status, how = str(body.get("status") or ""), str(body.get("how") or "in_place")
    if status not in ("canceled", "correct") or how not in HOW:
        raise ValueError('status must be "canceled" or "correct", how one of '
                         + ", ".join(HOW))
    venue = request.app[VENUE]
    now = venue.sync()
    found = next((a for _, a in venue.engine.nta if a["id"] == body.get("activity_id")), None)
    if found is None:
        raise ValueError(f"no non-trade activity {body.get('activity_id')!r}")
    old = Decimal(found["net_amount"])
    new = Decimal(0) if status == "canceled" else -_amount(body)
    ledger = venue.engine.ledger
    ledger.cash += new - old
    ledger.history.append((now, ledger.snapshot()))
    if how == "in_place":
        found.update(status=status, net_amount=num(new if status == "correct" else old))
        return reply(found)
    posted: dict[str, Any] = {**found, "id": venue.engine.activity_id(now, venue.ids.uuid()),
                              "status": status,
                              "net_amount": num(old if status == "canceled" else new)}
    venue.engine.nta.append((now, posted))
    return reply(posted)


def _amount(body: dict[str, Any]) -> Decimal:
    try:
        amount = Decimal(str(body.get("amount")))
    except InvalidOperation:
        raise ValueError("amount must be a positive number") from None
    if not amount.is_finite() or amount <= 0:
        raise ValueError("amount must be a positive number")
    return amount.quantize(Decimal("0.01"))
