"""The aiohttp application: trading API, market data, trade_updates stream and control API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from trading_monitor.paper_exchange import (
    control,
    control_account,
    control_cash,
    control_fee_fix,
    corporate_later,
    market_stream,
    marketdata,
    misreport,
    rules_api,
    trading,
)
from trading_monitor.paper_exchange.control_drift import routes as drift_routes
from trading_monitor.paper_exchange.orders import unprocessable
from trading_monitor.paper_exchange.plumbing import (
    AFTER,
    COUNTERS,
    HUB,
    KEYS,
    VENUE,
    integer,
    invalid,
    plumbing,
    reply,
    when,
)
from trading_monitor.paper_exchange.stream import StreamHub
from trading_monitor.paper_exchange.venue import Venue

log = logging.getLogger(__name__)
data_routes = web.RouteTableDef()
TICK_SECONDS = 0.1


def _symbols(request: web.Request) -> list[str]:
    raw = request.query.get("symbols", "")
    symbols = [s.strip().upper() for s in raw.split(",") if s.strip()]
    if not symbols:
        raise invalid("symbols is required")
    venue = request.app[VENUE]
    # Unknown symbols are left out of the answer, as Alpaca does.
    return [s for s in symbols if venue.market.knows(s)]


@data_routes.get("/v2/stocks/trades/latest")
async def latest_trades(request: web.Request) -> web.Response:
    venue = request.app[VENUE]
    return reply({"trades": {s: marketdata.trade(venue.market, s, venue.now)
                             for s in _symbols(request)}})


@data_routes.get("/v2/stocks/quotes/latest")
async def latest_quotes(request: web.Request) -> web.Response:
    venue = request.app[VENUE]
    return reply({"quotes": {s: marketdata.quote(venue.market, s, venue.now)
                             for s in _symbols(request)}})


@data_routes.get("/v2/stocks/bars/latest")
async def latest_bars(request: web.Request) -> web.Response:
    venue = request.app[VENUE]
    out = {}
    for s in _symbols(request):
        snap = marketdata.snapshot(venue.market, s, venue.now)
        out[s] = snap["minuteBar"]
    return reply({"bars": out})


@data_routes.get("/v2/stocks/snapshots")
async def snapshots(request: web.Request) -> web.Response:
    venue = request.app[VENUE]
    return reply({s: marketdata.snapshot(venue.market, s, venue.now)
                  for s in _symbols(request)})


@data_routes.get("/v2/stocks/bars")
async def bars(request: web.Request) -> web.Response:
    venue = request.app[VENUE]
    if not request.query.get("timeframe"):
        raise unprocessable("timeframe is required")  # Alpaca answers, it does not default
    try:
        step = marketdata.parse_timeframe(request.query["timeframe"])
    except ValueError as err:
        raise invalid(str(err)) from None
    start, end = when(request, "start"), when(request, "end") or venue.now
    limit = integer(request, "limit", 1000, 1, 10000)
    offset = integer(request, "page_token", 0, 0, 10**9) if request.query.get("page_token") \
        else 0
    flat = []
    for s in _symbols(request):
        flat += [(s, b) for b in marketdata.bars(venue.market, s, step, start, end)]
    if request.query.get("sort", "asc").lower() == "desc":
        flat.reverse()
    page = flat[offset:offset + limit]
    grouped: dict[str, list[Any]] = {}
    for symbol, bar in page:
        grouped.setdefault(symbol, []).append(bar)
    more = offset + limit < len(flat)
    return reply({"bars": grouped, "next_page_token": str(offset + limit) if more else None})


def build_app(venue: Venue, api_key: str | None = None,
              secret_key: str | None = None) -> web.Application:
    app = web.Application(middlewares=[plumbing])
    app[VENUE] = venue
    app[COUNTERS] = Counter()
    app[KEYS] = (api_key, secret_key)
    hub = StreamHub(venue)
    app[HUB] = hub
    app[AFTER] = [hub.flush]
    app[AFTER].append(market_stream.install(app, venue).flush)  # statuses (halts)
    app.router.add_routes(trading.routes)
    app.router.add_routes(data_routes)
    app.router.add_routes(control.routes)
    app.router.add_routes(drift_routes)
    app.router.add_routes(rules_api.routes)
    app.router.add_routes(control_account.routes)
    app.router.add_routes(control_cash.routes)
    app.router.add_routes(control_fee_fix.routes)
    app.router.add_routes(corporate_later.routes)
    app.router.add_routes(misreport.routes)
    app.router.add_get("/stream", hub.handle)
    app.on_shutdown.append(hub.close_all)
    app.cleanup_ctx.append(_ticker(venue, hub))
    return app


def _ticker(venue: Venue, hub: StreamHub) -> Any:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        task = None
        if venue.clock.mode != "stepped":
            task = asyncio.create_task(_tick(venue, hub))
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return ctx


async def _tick(venue: Venue, hub: StreamHub) -> None:
    # Time passes on its own in realtime/accelerated mode: keep fills and expiries flowing.
    while True:
        await asyncio.sleep(TICK_SECONDS)
        try:
            venue.sync()
            hub.flush()
        except Exception:  # one bad tick must not stop time for the rest of the run
            log.exception("paper exchange clock tick failed")
