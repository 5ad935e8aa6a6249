"""The control API (/control/...) and ExchangeControl, its Python client."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from trading_monitor.paper_exchange import faults, wire
from trading_monitor.paper_exchange.plumbing import COUNTERS, HUB, VENUE, json_body, reply

routes = web.RouteTableDef()


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


@routes.post("/control/partial_fill")
async def partial_fill(request: web.Request) -> web.Response:
    body = await json_body(request)
    symbol, client_id = body.get("symbol"), body.get("client_order_id")
    if bool(symbol) == bool(client_id):
        raise ValueError("exactly one of symbol or client_order_id is required")
    ratio = body.get("ratio")
    request.app[VENUE].set_partial_fill(
        symbol=symbol, client_order_id=client_id,
        ratio=None if ratio is None else _decimal(ratio, "ratio"))
    return reply({"symbol": symbol, "client_order_id": client_id, "ratio": ratio})


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
    return reply([wire.order(o, None) for o in engine.orders.values()])


@routes.get("/control/state")
async def state(request: web.Request) -> web.Response:
    data = request.app[VENUE].state()
    data["stream_listeners"] = sum(1 for c in request.app[HUB].clients if c.listening)
    return reply(data)


class ControlError(RuntimeError):
    """The control API refused a request; `status` and `body` say why."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"control API answered {status}: {body}")
        self.status = status
        self.body = body


class ExchangeControl:
    """Drives a running paper exchange over HTTP, from this or any other process."""

    def __init__(self, url: str, api_key: str | None = None, secret_key: str | None = None,
                 timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._headers = {
            "APCA-API-KEY-ID": api_key or "paper-key",
            "APCA-API-SECRET-KEY": secret_key or "paper-secret",
            "Content-Type": "application/json",
        }
        self.timeout = timeout
        # The exchange is local: an http_proxy in the environment must not capture control calls.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body, default=str).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers=self._headers)
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            raise ControlError(err.code, err.read().decode(errors="replace")) from None

    def set_price(self, symbol: str, price: Decimal | str | float) -> None:
        self.set_prices({symbol: price})

    def set_prices(self, prices: dict[str, Any]) -> None:
        self._call("POST", "/control/prices", {"prices": {s: str(p) for s, p in prices.items()}})

    def advance(self, seconds: float) -> dict[str, Any]:
        return self._call("POST", "/control/advance", {"seconds": seconds})

    def set_clock(self, at: datetime) -> dict[str, Any]:
        return self._call("POST", "/control/clock", {"at": at.isoformat()})

    def set_fault(self, endpoint: str | None = None, kind: str = "http_status", *,
                  count: int | None = None, probability: float | None = None,
                  **params: Any) -> dict[str, Any]:
        body = {"endpoint": endpoint, "kind": kind, "count": count,
                "probability": probability, **params}
        body = {k: v for k, v in body.items() if v is not None}
        return self._call("POST", "/control/faults", body)

    def clear_faults(self) -> None:
        self._call("DELETE", "/control/faults")

    def set_partial_fill(self, symbol: str | None = None, ratio: Decimal | str | None = None, *,
                         client_order_id: str | None = None) -> None:
        key = {"symbol": symbol} if symbol else {"client_order_id": client_order_id}
        self._call("POST", "/control/partial_fill",
                   {**key, "ratio": None if ratio is None else str(ratio)})

    def set_position_lag(self, seconds: float) -> None:
        self._call("POST", "/control/position_lag", {"seconds": seconds})

    def set_rate_limit(self, per_min: int | None) -> None:
        self._call("POST", "/control/rate_limit", {"per_min": per_min})

    def counters(self) -> dict[str, int]:
        return self._call("GET", "/control/counters")

    def reset_counters(self) -> None:
        self._call("DELETE", "/control/counters")

    def close_position_manually(self, symbol: str) -> dict[str, Any]:
        return self._call("POST", f"/control/positions/{symbol}/close")

    def orders(self) -> list[dict[str, Any]]:
        return self._call("GET", "/control/orders")

    def state(self) -> dict[str, Any]:
        return self._call("GET", "/control/state")
