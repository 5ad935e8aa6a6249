"""Fixtures: a stepped-clock exchange per test and the real alpaca-py clients pointed at it."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderStatus
from alpaca.trading.models import TradeUpdate
from alpaca.trading.requests import MarketOrderRequest
from alpaca.trading.stream import TradingStream

from trading_monitor.paper_exchange import ExchangeControl, PaperExchange

# Friday 2026-11-20, 09:35 New York: the market is open.
OPEN_MOMENT = datetime(2026, 11, 20, 14, 35, tzinfo=timezone.utc)
KEY, SECRET = "test-key", "test-secret"


def fast_retries(client: Any, attempts: int = 3, wait: float = 0.01) -> Any:
    # TradingClient exposes no retry knobs (only RESTClient does), and its default 3 s wait
    # would make every 429/504 test slow; these are the attributes RESTClient reads.
    client._retry = attempts
    client._retry_wait = wait
    return client


@pytest.fixture
def exchange() -> Iterator[PaperExchange]:
    with PaperExchange(seed=7, start=OPEN_MOMENT, random_walk=False).start() as ex:
        yield ex


@pytest.fixture
def ctl(exchange: PaperExchange) -> ExchangeControl:
    return exchange.control


@pytest.fixture
def client(exchange: PaperExchange) -> TradingClient:
    return fast_retries(TradingClient(KEY, SECRET, url_override=exchange.url))


@pytest.fixture
def raw_client(exchange: PaperExchange) -> TradingClient:
    return fast_retries(TradingClient(KEY, SECRET, url_override=exchange.url, raw_data=True))


@pytest.fixture
def data_client(exchange: PaperExchange) -> StockHistoricalDataClient:
    return StockHistoricalDataClient(KEY, SECRET, url_override=exchange.url)


class StreamRecorder:
    """Runs alpaca-py's TradingStream in a thread and records every TradeUpdate it parses."""

    def __init__(self, url: str, key: str = KEY, secret: str = SECRET) -> None:
        self.updates: list[TradeUpdate] = []
        self.stream = TradingStream(key, secret, url_override=url)
        self.stream._reconnect_min_backoff = 0.05  # reconnect tests should not wait ~1 s
        self.stream._reconnect_max_backoff = 0.2
        self.stream.subscribe_trade_updates(self._on_update)
        self.thread = threading.Thread(target=self.stream.run, daemon=True)

    async def _on_update(self, update: TradeUpdate) -> None:
        self.updates.append(update)

    def start(self, exchange: PaperExchange) -> StreamRecorder:
        self.thread.start()
        wait_until(lambda: self.stream._running, what="stream connected")
        # The listen frame follows authorization; give it a moment to be processed.
        wait_until(lambda: _listeners(exchange) > 0, what="stream listening")
        return self

    def events(self) -> list[tuple[str, str]]:
        return [(str(u.event.value if hasattr(u.event, "value") else u.event), str(u.order.id))
                for u in self.updates]

    def stop(self) -> None:
        if self.stream._loop is not None and self.stream._loop.is_running():
            asyncio.run_coroutine_threadsafe(self.stream.stop_ws(), self.stream._loop).result(5)
            # stop_ws alone is noticed only after recv()'s 5 s timeout; closing wakes it now.
            asyncio.run_coroutine_threadsafe(self.stream.close(), self.stream._loop)
        self.thread.join(10)


def _listeners(exchange: PaperExchange) -> int:
    return int(exchange.control.state().get("stream_listeners", 0))


@pytest.fixture
def stream(exchange: PaperExchange) -> Iterator[StreamRecorder]:
    recorder = StreamRecorder(exchange.stream_url).start(exchange)
    yield recorder
    recorder.stop()


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what or predicate}")


def D(value: Any) -> Decimal:
    return Decimal(str(value))


def market(symbol: str = "AAPL", qty: float = 10, side: str = "buy",
           **kw: object) -> MarketOrderRequest:
    return MarketOrderRequest(symbol=symbol, qty=qty, side=side, time_in_force="day", **kw)


def status(client, order_id) -> OrderStatus:  # type: ignore[no-untyped-def]
    return client.get_order_by_id(order_id).status
