"""Control routes of the broker rules (/control/rules, /control/halt,
/control/corporate_action) and the market-data corporate-actions listing."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from trading_monitor.paper_exchange import clock, corporate, corporate_wire, halts
from trading_monitor.paper_exchange.plumbing import VENUE, invalid, json_body, reply

routes = web.RouteTableDef()


@routes.get("/control/rules")
async def get_rules(request: web.Request) -> web.Response:
    return reply(request.app[VENUE].engine.rules.describe())


@routes.post("/control/rules")
async def set_rules(request: web.Request) -> web.Response:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ValueError('body must be an object, e.g. {"wash_trade": false}')
    rules = request.app[VENUE].engine.rules
    rules.update(body)
    return reply(rules.describe())


def _flag(body: dict[str, Any], name: str, default: bool | None = False) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false")
    return value


@routes.post("/control/replace_behavior")
async def replace_behavior(request: web.Request) -> web.Response:
    body = await json_body(request)
    engine = request.app[VENUE].engine
    return reply({"orders": engine.set_replace_behavior(str(body.get("mode", "")),
                                                        body.get("client_order_id") or None)})


@routes.post("/control/halt")
async def halt(request: web.Request) -> web.Response:
    body = await json_body(request)
    venue = request.app[VENUE]
    symbol = str(body.get("symbol") or "").upper()
    if symbol not in venue.assets:
        raise ValueError(f"unknown symbol {symbol}")
    return reply(halts.set_halt(
        venue, symbol, _flag(body, "halted", None),
        tradable_flips=_flag(body, "tradable_flips"),
        cancel_elected=_flag(body, "cancel_elected_stops_at_reopen")))


@routes.get("/control/halts")
async def list_halts(request: web.Request) -> web.Response:
    return reply(halts.describe_all(request.app[VENUE]))


@routes.post("/control/corporate_action")
async def corporate_action(request: web.Request) -> web.Response:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ValueError("body must be an object")
    venue = request.app[VENUE]
    action = corporate.parse(venue, body)
    when = body.get("apply")
    if when not in (None, "now", "scheduled"):
        raise ValueError('apply must be "now" or "scheduled" (default: now if the ex-date\'s '
                         "pre-open has passed)")
    venue.announce(action, None if when is None else when == "now")
    return reply(corporate_wire.control_view(action))


@routes.get("/control/corporate_actions")
async def corporate_actions(request: web.Request) -> web.Response:
    return reply([corporate_wire.control_view(a) for a in request.app[VENUE].actions])


@routes.get("/v1/corporate-actions")
@routes.get("/v1beta1/corporate-actions")
async def list_corporate_actions(request: web.Request) -> web.Response:
    venue = request.app[VENUE]
    try:
        return reply(corporate_wire.page(venue.actions, dict(request.query),
                                         venue.now.astimezone(clock.NY).date()))
    except ValueError as err:  # a bad date or number in the query
        raise invalid(str(err)) from None
