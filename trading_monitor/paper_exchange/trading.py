"""Trading API v2 routes, as alpaca-py's TradingClient calls them."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from aiohttp import web

from trading_monitor.paper_exchange import clock, misreport, wire
from trading_monitor.paper_exchange.assets import lookup
from trading_monitor.paper_exchange.orders import (
    OPEN_STATUSES,
    ApiError,
    Order,
    invalid,
    not_found,
    parse_order,
)
from trading_monitor.paper_exchange.plumbing import (
    VENUE,
    day,
    decimal_query,
    flag,
    integer,
    json_body,
    reply,
    when,
)

routes = web.RouteTableDef()


@routes.get("/v2/account")
async def get_account(request: web.Request) -> web.Response:
    return reply(request.app[VENUE].account_json())


@routes.post("/v2/orders")
async def post_order(request: web.Request) -> web.Response:
    venue = request.app[VENUE]
    spec = parse_order(await json_body(request))
    order = venue.engine.submit(spec, venue.now)
    body = venue.order_json(order.id, nested=True)
    # The response shows the order as accepted; fills follow, as on Alpaca.
    venue.sync_after_change()
    return reply(body)


def _legs_match(venue: Any, order: Order, statuses: set[str] | None) -> bool:
    return any(statuses is None or misreport.status(venue, venue.engine.orders[i]) in statuses
               for i in order.legs)


@routes.get("/v2/orders")
async def list_orders(request: web.Request) -> web.Response:
    venue = request.app[VENUE]
    status = request.query.get("status", "open").lower()
    if status not in ("open", "closed", "all"):
        raise invalid(f"invalid status: {status}")
    closed = {"filled", "canceled", "expired", "replaced", "rejected", "done_for_day",
              "stopped", "suspended", "calculated"}
    statuses = None if status == "all" else set(OPEN_STATUSES) if status == "open" else closed
    limit = integer(request, "limit", 50, 1, 500)
    after, until = when(request, "after"), when(request, "until")
    direction = request.query.get("direction", "desc").lower()
    nested = flag(request, "nested")
    symbols = {s.strip().upper() for s in request.query.get("symbols", "").split(",") if s}
    side = request.query.get("side", "").lower()
    picked = []
    for order in venue.engine.orders.values():
        if nested and order.parent_id is not None:
            continue
        if statuses is not None and misreport.status(venue, order) not in statuses and not (
            nested and _legs_match(venue, order, statuses)
        ):
            continue
        if (after and order.created_at <= after) or (until and order.created_at >= until):
            continue
        if (symbols and order.symbol not in symbols) or (side and order.side != side):
            continue
        picked.append(order)
    picked.sort(key=lambda o: o.created_at, reverse=direction != "asc")
    return reply([misreport.order_read(venue, venue.order_json(o.id, nested))
                  for o in picked[:limit]])


@routes.delete("/v2/orders")
async def cancel_all(request: web.Request) -> web.Response:
    venue = request.app[VENUE]
    touched = venue.engine.cancel_all(venue.now)
    return reply([{"id": o.id, "status": 200, "body": wire.order(o, None)} if err is None
                  else {"id": o.id, "status": err.status, "body": err.body()}
                  for o, err in touched], status=207)


@routes.get("/v2/orders:by_client_order_id")
async def by_client_id(request: web.Request) -> web.Response:
    venue = request.app[VENUE]
    client_id = request.query.get("client_order_id", "")
    if not client_id:
        raise invalid("client_order_id is required")
    order = venue.engine.by_client_id(client_id)
    return reply(misreport.order_read(venue, venue.order_json(order.id, nested=True)))


@routes.get("/v2/orders/{id}")
async def get_order(request: web.Request) -> web.Response:
    venue = request.app[VENUE]
    return reply(misreport.order_read(
        venue, venue.order_json(request.match_info["id"], flag(request, "nested"))))


@routes.patch("/v2/orders/{id}")
async def replace_order(request: web.Request) -> web.Response:
    venue = request.app[VENUE]
    new = venue.engine.replace_order(request.match_info["id"], await json_body(request),
                                     venue.now)
    body = venue.order_json(new.id, nested=True)
    venue.sync_after_change()
    return reply(body)


@routes.delete("/v2/orders/{id}")
async def cancel_order(request: web.Request) -> web.Response:
    venue = request.app[VENUE]
    venue.engine.cancel(request.match_info["id"], venue.now)
    return web.Response(status=204)


# -- positions --------------------------------------------------------------------------------


@routes.get("/v2/positions")
async def list_positions(request: web.Request) -> web.Response:
    venue = request.app[VENUE]
    view = venue.positions_view()
    return reply([venue.position_json(view[s]) for s in sorted(view)])


def _position_symbol(request: web.Request) -> str:
    venue = request.app[VENUE]
    wanted = request.match_info["symbol_or_asset_id"]
    asset = lookup(venue.assets, wanted)
    if asset is None:
        raise not_found(f"position not found: {wanted}")
    return asset.symbol


@routes.get("/v2/positions/{symbol_or_asset_id}")
async def get_position(request: web.Request) -> web.Response:
    venue = request.app[VENUE]
    symbol = _position_symbol(request)
    position = venue.positions_view().get(symbol)
    if position is None:
        raise not_found(f"position not found: {symbol}")
    return reply(venue.position_json(position))


def _close_qty(request: web.Request, held: Decimal) -> Decimal | None:
    qty, percentage = decimal_query(request, "qty"), decimal_query(request, "percentage")
    if qty is not None and percentage is not None:
        raise invalid("only one of qty or percentage may be specified")
    if percentage is not None:
        if percentage > 100:
            raise invalid("percentage must be <= 100")
        return (abs(held) * percentage / 100).quantize(Decimal("0.000000001"), ROUND_DOWN)
    return qty


@routes.delete("/v2/positions/{symbol_or_asset_id}")
async def close_position(request: web.Request) -> web.Response:
    venue = request.app[VENUE]
    symbol = _position_symbol(request)
    qty = _close_qty(request, venue.engine.ledger.qty(symbol))
    order = venue.engine.close_position(symbol, qty, venue.now)
    body = venue.order_json(order.id, nested=False)
    venue.sync_after_change()
    return reply(body)


@routes.delete("/v2/positions")
async def close_all(request: web.Request) -> web.Response:
    venue = request.app[VENUE]
    if flag(request, "cancel_orders"):
        venue.engine.cancel_all(venue.now)
    out = []
    for symbol in sorted(venue.engine.ledger.positions):
        try:
            order = venue.engine.close_position(symbol, None, venue.now)
        except ApiError as err:
            out.append({"symbol": symbol, "status": err.status, "body": err.body()})
            continue
        out.append({"symbol": symbol, "status": 200, "order_id": order.id,
                    "body": wire.order(order, None)})
    venue.sync_after_change()
    return reply(out, status=207)


# -- clock, calendar, assets, activities ------------------------------------------------------


@routes.get("/v2/clock")
async def get_clock(request: web.Request) -> web.Response:
    return reply(wire.market_clock(request.app[VENUE].now))


@routes.get("/v2/calendar")
async def get_calendar(request: web.Request) -> web.Response:
    first = day(request, "start") or clock.CALENDAR_FIRST
    last = day(request, "end") or clock.CALENDAR_LAST
    if (last - first).days > 3660:
        raise invalid("calendar range is limited to ten years")
    return reply([wire.calendar_day(s) for s in clock.sessions_between(first, last)])


@routes.get("/v2/assets")
async def list_assets(request: web.Request) -> web.Response:
    venue = request.app[VENUE]
    status = request.query.get("status", "active").lower()
    asset_class = request.query.get("asset_class", "us_equity").lower()
    exchange = request.query.get("exchange", "").upper()
    if status != "active" or asset_class != "us_equity":
        return reply([])
    return reply([wire.asset(a) for a in venue.assets.values()
                  if not exchange or a.exchange == exchange])


@routes.get("/v2/assets/{symbol_or_asset_id}")
async def get_asset(request: web.Request) -> web.Response:
    venue = request.app[VENUE]
    wanted = request.match_info["symbol_or_asset_id"]
    asset = lookup(venue.assets, wanted)
    if asset is None:
        raise not_found(f"asset not found for {wanted}")
    return reply(wire.asset(asset))


def _activities(request: web.Request, types: set[str] | None) -> web.Response:
    """FILLs and the non-trade activities (SPLIT, NC, CIL) of `types` (None: every type)."""
    venue = request.app[VENUE]
    after, until = when(request, "after"), when(request, "until")
    on = day(request, "date")
    direction = request.query.get("direction", "desc").lower()
    page_size = integer(request, "page_size", 100, 1, 100)
    token = request.query.get("page_token")
    items: list[tuple[str, datetime, Any]] = []
    if types is None or "FILL" in types:
        items += [(a.id, a.at, a) for a in venue.engine.activities]
    items += [(nta["id"], at, nta) for at, nta in venue.engine.nta
              if types is None or nta["activity_type"] in types]
    items = sorted(
        (i for i in items
         if not (after and i[1] <= after) and not (until and i[1] >= until)
         and not (on and i[1].astimezone(clock.NY).date() != on)),
        key=lambda i: i[0])
    # Ids grow with time, so the page after a token is simply the ids beyond it.
    if direction != "asc":
        items.reverse()
        items = [i for i in items if i[0] < token] if token else items
    elif token:
        items = [i for i in items if i[0] > token]
    return reply([i[2] if isinstance(i[2], dict) else wire.activity(i[2], venue.account_id)
                  for i in items[:page_size]])


@routes.get("/v2/account/activities")
async def activities(request: web.Request) -> web.Response:
    raw = request.query.get("activity_types", "")
    wanted = {t.strip().upper() for t in raw.split(",") if t.strip()}
    return _activities(request, wanted or None)  # no activity_types: every type


@routes.get("/v2/account/activities/{activity_type}")
async def activities_of_type(request: web.Request) -> web.Response:
    return _activities(request, {request.match_info["activity_type"].upper()})

