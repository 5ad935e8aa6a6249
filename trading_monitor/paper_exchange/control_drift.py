"""Control routes for the shape of the bodies: the drift switch and per-symbol borrow status."""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web

from trading_monitor.paper_exchange import drift, wire
from trading_monitor.paper_exchange.assets import lookup
from trading_monitor.paper_exchange.plumbing import VENUE, json_body, reply

routes = web.RouteTableDef()


@routes.post("/control/drift")
async def set_drift(request: web.Request) -> web.Response:
    """{"on": true} or {"on": false}; optional "omit": {"asset": ["class"]} leaves needed
    fields out too (while on), so a test can watch the adapter name a broken answer."""
    body = await json_body(request)
    on = body.get("on")
    if not isinstance(on, bool):
        raise ValueError('body must be {"on": true} or {"on": false}')
    venue = request.app[VENUE]
    drift.set_drift(venue, on, _omit(body.get("omit")))
    return _drift_state(request)


def _omit(raw: Any) -> dict[str, frozenset[str]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(
            isinstance(k, str) and isinstance(v, list) and all(isinstance(f, str) for f in v)
            for k, v in raw.items()):
        raise ValueError('omit must be {"kind": ["field", ...], ...}')
    return {kind: frozenset(fields) for kind, fields in raw.items()}


def _drift_state(request: web.Request) -> web.Response:
    venue = request.app[VENUE]
    return reply({"on": drift.is_on(venue), "omit": drift.omitted(venue)})


@routes.get("/control/drift")
async def get_drift(request: web.Request) -> web.Response:
    return _drift_state(request)


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
