"""Control routes for the shape of the bodies: the drift switch and per-symbol borrow status."""

from __future__ import annotations

import dataclasses

from aiohttp import web

from trading_monitor.paper_exchange import drift, wire
from trading_monitor.paper_exchange.assets import lookup
from trading_monitor.paper_exchange.plumbing import VENUE, json_body, reply

routes = web.RouteTableDef()


@routes.post("/control/drift")
async def set_drift(request: web.Request) -> web.Response:
    on = (await json_body(request)).get("on")
    if not isinstance(on, bool):
        raise ValueError('body must be {"on": true} or {"on": false}')
    venue = request.app[VENUE]
    drift.set_drift(venue, on)
    return reply({"on": drift.is_on(venue)})


@routes.get("/control/drift")
async def get_drift(request: web.Request) -> web.Response:
    return reply({"on": drift.is_on(request.app[VENUE])})


@routes.post("/control/borrow_status")
async def set_borrow_status(request: web.Request) -> web.Response:
    """{"symbol": "AAPL", "borrow_status": "hard_to_borrow"}; null leaves the field out.

    Any non-empty string is taken, so a test can also serve a value Alpaca may add later.
    """
    body = await json_body(request)
    status = body.get("borrow_status")
    if status is not None and (not isinstance(status, str) or not status):
        raise ValueError("borrow_status must be a non-empty string or null (absent)")
    venue = request.app[VENUE]
    asset = lookup(venue.assets, str(body.get("symbol") or ""))
    if asset is None:
        raise ValueError(f"unknown symbol {body.get('symbol')}")
    venue.assets[asset.symbol] = dataclasses.replace(asset, borrow_status=status)
    return reply(wire.asset(venue.assets[asset.symbol]))
