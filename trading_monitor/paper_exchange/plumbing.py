"""Request plumbing shared by the API modules: auth, counters, rate limit, faults, errors."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from aiohttp import web

from trading_monitor.paper_exchange import drift, faults
from trading_monitor.paper_exchange.faults import Fault
from trading_monitor.paper_exchange.orders import ApiError, invalid
from trading_monitor.paper_exchange.venue import Venue

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
VENUE: web.AppKey[Venue] = web.AppKey("venue", Venue)
COUNTERS: web.AppKey[Counter[str]] = web.AppKey("counters")
KEYS: web.AppKey[tuple[str | None, str | None]] = web.AppKey("keys", tuple)
HUB: web.AppKey[Any] = web.AppKey("hub")
AFTER: web.AppKey[list[Callable[[], None]]] = web.AppKey("after", list)
STREAMS = ("/stream", "/v2/iex", "/v2/sip")  # trade_updates; market data (market_stream.py)


def dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), default=str)


def reply(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=dumps)


def error_reply(err: ApiError) -> web.Response:
    return reply(err.body(), status=err.status)


def endpoint_key(request: web.Request) -> str:
    route = request.match_info.route
    resource = route.resource
    path = resource.canonical if resource is not None else request.path
    return f"{request.method} {path}"


def keys_ok(app: web.Application, key_id: str | None, secret: str | None) -> bool:
    want_key, want_secret = app[KEYS]
    if not key_id or not secret:
        return False
    if want_key is not None and key_id != want_key:
        return False
    return not (want_secret is not None and secret != want_secret)


def _abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        # No response at all: the client sees a reset/remote-disconnected connection.
        transport.abort()


@web.middleware
async def plumbing(request: web.Request, handler: Handler) -> web.StreamResponse:
    app = request.app
    venue = app[VENUE]
    drift.serving(venue)  # so the answer and the stream frames flushed below know their venue
    key = endpoint_key(request)
    control = request.path.startswith("/control/")
    # The streams authenticate inside the websocket protocol, not with headers.
    if request.path not in STREAMS and not keys_ok(app, request.headers.get("APCA-API-KEY-ID"),
                   request.headers.get("APCA-API-SECRET-KEY")):
        return _with_limits(reply({"code": 40110000, "message": "request is not authorized"},
                                  401), venue)
    if not control:
        app[COUNTERS][key] += 1
    venue.sync()
    fault = None
    if not control and request.path not in STREAMS and not venue.bucket.take():
        limited = reply({"code": 42910000, "message": "rate limit exceeded"}, 429)
        limited.headers["Retry-After"] = str(venue.bucket.retry_after())
        return _with_limits(limited, venue)
    if not control:
        # On "GET /stream" these hit the websocket handshake (e.g. refuse it with a 429).
        fault = venue.faults.take(key)
    if fault is not None:
        if fault.kind == "latency":
            await asyncio.sleep(fault.ms / 1000)
        elif fault.kind == "hang":
            # Take the whole request first: like a real backend, the exchange still acts on
            # it after the hang even if the client has given up and disconnected by then.
            await request.read()
            generation = venue.generation
            await asyncio.sleep(fault.seconds)
            if venue.generation != generation:
                # The exchange was reset meanwhile: the book this request was meant for is
                # gone, so it must not land in the next test's (nothing processed).
                _abort(request)
                return web.Response(status=500)
        elif fault.kind == "reset":
            _abort(request)
            return web.Response(status=500)
        elif fault.kind == "http_status":
            return _with_limits(_status_reply(fault), venue)
        venue.sync()
    resp: web.StreamResponse
    try:
        resp = await handler(request)
    except ApiError as err:
        resp = error_reply(err)
    except web.HTTPException as err:
        # aiohttp's own 404/405 for unknown routes, in Alpaca's error shape.
        if err.status < 400:
            raise
        resp = reply({"code": err.status * 100000, "message": err.reason.lower()}, err.status)
    except ValueError as err:
        resp = error_reply(invalid(str(err)))
    finally:
        for hook in app[AFTER]:
            hook()
    if fault is not None and fault.kind == "lost_response":
        _abort(request)
    if fault is not None and fault.kind == "slow_response":
        # Processed (an order created, and filled if marketable) before the answer leaves:
        # the fill feed and the stream can tell of the fill before the sender hears of its
        # order, as on a slow network to Alpaca.
        await asyncio.sleep(fault.ms / 1000)
    if isinstance(resp, web.Response):
        if not control:
            drift.reshape_reply(venue, request, key, resp)
        _with_limits(resp, venue)
    return resp


def _status_reply(fault: Fault) -> web.Response:
    resp = reply(faults.body(fault), fault.status)
    if fault.retry_after is not None or fault.status == 429:
        resp.headers["Retry-After"] = str(fault.retry_after if fault.retry_after is not None else 1)
    return resp


def _with_limits(resp: web.Response, venue: Venue) -> web.Response:
    resp.headers.update(venue.bucket.headers())
    return resp


# -- query parsing: alpaca-py sends Python's str(bool), i.e. "True"/"False" ------------------


def flag(request: web.Request, name: str, default: bool = False) -> bool:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise invalid(f"invalid {name}: {raw}")


def when(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise invalid(f"invalid {name}: {raw}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def day(request: web.Request, name: str) -> date | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise invalid(f"invalid {name}: {raw}") from None


def integer(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise invalid(f"{name} must be an integer between {low} and {high}")
    return int(raw)


def decimal_query(request: web.Request, name: str) -> Decimal | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(raw)
    except ArithmeticError:
        raise invalid(f"invalid {name}: {raw}") from None
    if not value.is_finite() or value <= 0:
        raise invalid(f"{name} must be > 0")
    return value


async def json_body(request: web.Request) -> Any:
    raw = await request.read()  # cached by aiohttp, so a fault may have read it already
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise invalid("request body is not valid JSON") from None
