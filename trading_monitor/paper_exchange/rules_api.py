"""Control routes of the broker rules (/control/rules, /control/halt,
/control/corporate_action) and the market-data corporate-actions listing."""

from __future__ import annotations

from aiohttp import web

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
