"""Broker requests per order-monitor cycle do not grow with the book: with nothing changed,
one fill-feed page and one open-orders page per 500 orders (<= 3 at 1,000 open orders)."""

from __future__ import annotations

import pytest

from tests.helpers import add_decision, entry
from tests.support.jobs import Jobs

SYMBOLS = ["AAPL", "MSFT", "NVDA", "TSLA", "SPY", "AMD"]


def _book(db, jobs: Jobs, exchange, n: int) -> Jobs:
    unlimited = jobs.with_settings(
        MAX_NOTIONAL_PER_ORDER="off", MAX_OPEN_POSITIONS="off", MAX_TOTAL_EXPOSURE="off",
        BLOCK_DUPLICATE_ENTRY="false", CHECK_BUYING_POWER="false",
        MAX_PRICE_DEVIATION_PCT="off")
    exchange.control.set_prices({s: "100.00" for s in SYMBOLS})
    for batch in range(0, n, 100):  # resting entries, below the market
        for i in range(batch, min(n, batch + 100)):
            add_decision(db, entry(SYMBOLS[i % len(SYMBOLS)], entry_price="90.00",
                                   stop_loss="85.00", take_profit="120.00", quantity=1))
        unlimited.executor()
        exchange.control.advance(1)  # a stepped clock: give each batch its own time
    unlimited.order_monitor()  # the first sync settles everything once
    return unlimited


@pytest.mark.parametrize(("n", "expected"), [(10, 2), (1000, 3)])
def test_an_idle_cycle_costs_a_few_requests_whatever_the_book(db, jobs, exchange, n,
                                                              expected):
    unlimited = _book(db, jobs, exchange, n)
    exchange.control.reset_counters()
    report = unlimited.order_monitor()
    counted = {k: v for k, v in exchange.control.counters().items() if " /v2/" in k}
    assert sum(counted.values()) == expected == report.broker_requests, counted
    assert report.actions == [] and report.sync.orders_changed == 0
