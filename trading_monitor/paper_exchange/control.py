"""The control API (/control/...); its Python client is ExchangeControl in control_client.py."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from trading_monitor.paper_exchange import faults, marketdata, wire
from trading_monitor.paper_exchange.control_client import ControlError, ExchangeControl
from trading_monitor.paper_exchange.plumbing import COUNTERS, HUB, VENUE, json_body, reply

__all__ = ["ControlError", "ExchangeControl", "routes"]  # the client is re-exported here

routes = web.RouteTableDef()
PLAYED = ("cancel_pending", "cancel_refused", "rejected_after_accept", "lagged_position_reads",
          "replace_refused", "replace_rejected_after_accept")


def _decimal(raw: Any, name: str) -> Decimal:
    try:
        value = Decimal(str(raw))
    except ArithmeticError:
        raise ValueError(f"invalid {name}: {raw}") from None
    if not value.is_finite():
        raise ValueError(f"invalid {name}: {raw}")
    return value


@routes.post("/control/prices")
async def set_prices(request: web.Request) -> web.Response:
    body = await json_body(request)
    prices = body.get("prices") or {}
    if not isinstance(prices, dict) or not prices:
        raise ValueError('body must be {"prices": {"SYMBOL": "price", ...}}')
    venue = request.app[VENUE]
    venue.set_prices({s: _decimal(p, s) for s, p in prices.items()})
    return reply({"prices": {s: wire.num(venue.market.price(s.upper())) for s in prices}})


@routes.post("/control/quote")
async def set_quote(request: web.Request) -> web.Response:
    body = await json_body(request)
    symbol, bid, ask = str(body.get("symbol") or ""), body.get("bid"), body.get("ask")
    if (bid is None) != (ask is None):
        raise ValueError("give both bid and ask (or neither, to clear the quote)")
    venue = request.app[VENUE]
    venue.set_quote(symbol, None if bid is None else _decimal(bid, "bid"),
                    None if ask is None else _decimal(ask, "ask"))
    return reply(marketdata.quote(venue.market, symbol.upper(), venue.now))


@routes.post("/control/volume")
async def set_volume(request: web.Request) -> web.Response:
    body = await json_body(request)
    symbol = str(body.get("symbol") or "")
    daily, previous = (None if body.get(k) is None else int(body[k]) for k in ("daily",
                                                                               "previous"))
    venue = request.app[VENUE]
    venue.set_volume(symbol, daily, previous)
    daily, previous = venue.market.volume(symbol.upper())
    return reply({"symbol": symbol.upper(), "daily": daily, "previous": previous})


@routes.post("/control/advance")
async def advance(request: web.Request) -> web.Response:
    body = await json_body(request)
    now = request.app[VENUE].advance(float(body.get("seconds", 0)))
    return reply(wire.market_clock(now))


@routes.post("/control/clock")
async def set_clock(request: web.Request) -> web.Response:
    body = await json_body(request)
    at = datetime.fromisoformat(str(body.get("at", "")).replace("Z", "+00:00"))
    return reply(wire.market_clock(request.app[VENUE].set_clock(at)))


@routes.post("/control/faults")
async def add_fault(request: web.Request) -> web.Response:
    fault = faults.build(await json_body(request))
    request.app[VENUE].faults.add(fault)
    return reply(fault.describe())


@routes.get("/control/faults")
async def list_faults(request: web.Request) -> web.Response:
    return reply([f.describe() for f in request.app[VENUE].faults.active])


@routes.delete("/control/faults")
async def clear_faults(request: web.Request) -> web.Response:
    request.app[VENUE].faults.clear()
    return reply([])


@routes.get("/control/fault_counts")
async def fault_counts(request: web.Request) -> web.Response:
    """What the exchange injected since its start (or reset): faults, cancel behaviours played,
    rejections after acceptance, lagged position reads."""
    venue = request.app[VENUE]
    injected = venue.faults.injected
    return reply({"faults": sum(n for k, n in injected.items() if " " not in k),
                  "by_kind": {k: n for k, n in injected.items() if " " not in k},
                  "by_endpoint": {k: n for k, n in injected.items() if " " in k},
                  **{k: venue.engine.played[k] for k in PLAYED}})


@routes.post("/control/partial_fill")
async def partial_fill(request: web.Request) -> web.Response:
    body = await json_body(request)
    symbol, client_id = body.get("symbol"), body.get("client_order_id")
    if bool(symbol) == bool(client_id):
        raise ValueError("exactly one of symbol or client_order_id is required")
    ratio = body.get("ratio")
    rest = bool(body.get("rest", False))
    request.app[VENUE].set_partial_fill(
        symbol=symbol, client_order_id=client_id,
        ratio=None if ratio is None else _decimal(ratio, "ratio"), rest=rest)
    return reply({"symbol": symbol, "client_order_id": client_id, "ratio": ratio,
                  "rest": rest})


@routes.post("/control/cancel_behavior")
async def cancel_behavior(request: web.Request) -> web.Response:
    body = await json_body(request)
    seconds = body.get("seconds")
    engine = request.app[VENUE].engine
    engine.set_cancel_behavior(str(body.get("mode", "")),
                               None if seconds is None else float(seconds),
                               body.get("client_order_id") or None)
    return reply(engine.cancel_behavior())


@routes.post("/control/reject")
async def reject(request: web.Request) -> web.Response:
    body = await json_body(request)
    client_id = body.get("client_order_id")
    if not client_id:
        raise ValueError("client_order_id is required")
    venue = request.app[VENUE]
    rejected = venue.engine.reject(str(client_id), venue.now)
    return reply({"reason": body.get("reason"),
                  "orders": [wire.order(o, None) for o in rejected]})


@routes.post("/control/position_lag")
async def position_lag(request: web.Request) -> web.Response:
    seconds = float((await json_body(request)).get("seconds", 0))
    if seconds < 0:
        raise ValueError("seconds must be >= 0")
    request.app[VENUE].position_lag = seconds
    return reply({"seconds": seconds})


@routes.post("/control/rate_limit")
async def rate_limit(request: web.Request) -> web.Response:
    per_min = (await json_body(request)).get("per_min")
    request.app[VENUE].bucket.configure(None if per_min is None else int(per_min))
    return reply({"per_min": per_min})


@routes.get("/control/counters")
async def counters(request: web.Request) -> web.Response:
    counted: Counter[str] = request.app[COUNTERS]
    return reply(dict(counted))


@routes.delete("/control/counters")
async def reset_counters(request: web.Request) -> web.Response:
    request.app[COUNTERS].clear()
    return reply({})


@routes.post("/control/positions/{symbol}/close")
async def close_manually(request: web.Request) -> web.Response:
    return reply(request.app[VENUE].close_manually(request.match_info["symbol"]))


@routes.get("/control/orders")
async def all_orders(request: web.Request) -> web.Response:
    engine = request.app[VENUE].engine
    # parent_id (not in Alpaca's order JSON) ties a leg to its group for the drills' counts.
    return reply([{**wire.order(o, None), "parent_id": o.parent_id}
                  for o in engine.orders.values()])


def _state(request: web.Request) -> web.Response:
    data = request.app[VENUE].state()
    data["stream_listeners"] = sum(1 for c in request.app[HUB].clients if c.listening)
    return reply(data)


@routes.get("/control/state")
async def state(request: web.Request) -> web.Response:
    return _state(request)


@routes.post("/control/reset")
async def reset(request: web.Request) -> web.Response:
    request.app[VENUE].reset()
    request.app[COUNTERS].clear()
    return _state(request)
