"""The order stream listener's fixtures, shared by the stream tests (import them by name)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import exchange_env
from tests.helpers import exchange_now
from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.transport import RequestBudget
from trading_monitor.order_monitor.listener import OrderStreamListener
from trading_monitor.settings.config import Settings, load_settings


def wait_within(condition: Callable[[], object], seconds: float) -> None:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > seconds:
            raise AssertionError(f"not within {seconds}s")
        time.sleep(0.05)


@pytest.fixture
def staged(exchange) -> Settings:
    return load_settings(exchange_env(exchange, PROTECTION_MODE="staged", ORDER_POLLING="false"),
                         need_broker=True)


@pytest.fixture
def listener(db_params, staged, exchange) -> Iterator[OrderStreamListener]:
    broker = AlpacaBroker(staged, budget=RequestBudget(100_000))
    listening = OrderStreamListener(db_params, broker, staged, now=exchange_now).start()
    wait_within(lambda: listening.connected, 10)
    try:
        yield listening
    finally:
        listening.stop()
