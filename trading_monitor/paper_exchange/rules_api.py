"""Control routes of the broker rules (/control/rules, /control/halt,
/control/corporate_action) and the market-data corporate-actions listing."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from trading_monitor.paper_exchange import halts
from trading_monitor.paper_exchange.plumbing import VENUE, json_body, reply

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
