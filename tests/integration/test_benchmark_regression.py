"""The benchmark's request counts held in CI (scripts/benchmark.py measures them with latency
and wall time; nothing here is timed): broker requests per cycle do not grow with the book,
so a change that adds a request per order, per position or per decision fails here.

At N = 10 and N = 200 (both under one 500-order page of open orders):
- an order-monitor cycle with nothing changed: 2 (one fill-feed page, one open-orders page),
  and still 2 when an entry has filled (the fill comes with the feed page);
- a position-monitor cycle with nothing to do: 5 (fill feed, open orders, positions, account,
  one market snapshot for the book's six symbols);
- an executor cycle of N NEW_TRADE decisions: N order POSTs, four reads (account, positions,
  clock, one market snapshot of the pending symbols) and one asset look-up per symbol.
The seed's plan (one request per pending order and per position) would cost N.
"""

from __future__ import annotations

import pytest

from tests.helpers import add_decision, entry
from tests.support.jobs import Jobs

SYMBOLS = ["AAPL", "MSFT", "NVDA", "TSLA", "SPY", "AMD"]
FEED, OPEN_ORDERS = "GET /v2/account/activities/{activity_type}", "GET /v2/orders"


def _unlimited(jobs: Jobs, **env: str) -> Jobs:
    """The jobs with every limit that would refuse a big book off."""
    book = {"MAX_NOTIONAL_PER_ORDER": "off", "MAX_OPEN_POSITIONS": "off",
            "MAX_TOTAL_EXPOSURE": "off", "BLOCK_DUPLICATE_ENTRY": "false",
            "BLOCK_SAME_DAY_REENTRY": "false", "CHECK_BUYING_POWER": "false",
            "MAX_PRICE_DEVIATION_PCT": "off"}
    return jobs.with_settings(**{**book, **env})


def _counted(exchange) -> dict[str, int]:
    return {k: v for k, v in exchange.control.counters().items() if " /v2/" in k and v}


def _book(db, jobs: Jobs, exchange, limits: list[str], *, protect: bool = False) -> None:
    """One one-share buy per limit, 100 decisions per executor cycle and a second of exchange
    time between cycles (a stepped clock gives a cycle's orders one submission time)."""
    exchange.control.set_prices({s: "100.00" for s in SYMBOLS})
    for batch in range(0, len(limits), 100):
        for i in range(batch, min(len(limits), batch + 100)):
            add_decision(db, entry(SYMBOLS[i % len(SYMBOLS)], entry_price=limits[i],
                                   stop_loss="85.00", take_profit="120.00", quantity=1))
        jobs.executor()
        if protect:
            jobs.order_monitor()
        exchange.control.advance(1)
    jobs.order_monitor()  # the first sync settles the book once


@pytest.mark.parametrize("n", [10, 200])
def test_an_order_monitor_cycle_costs_two_requests_with_nothing_changed_or_a_fill(
        db, jobs, exchange, n):
    jobs = _unlimited(jobs)
    _book(db, jobs, exchange, ["95.00"] + ["90.00"] * (n - 1))
    exchange.control.reset_counters()
    report = jobs.order_monitor()
    assert _counted(exchange) == {FEED: 1, OPEN_ORDERS: 1}
    assert report.broker_requests == 2
    assert report.actions == [] and report.sync.orders_changed == 0

    exchange.control.set_prices({s: "94.00" for s in SYMBOLS})  # the one at 95 fills
    exchange.control.reset_counters()
    report = jobs.order_monitor()
    assert report.sync.new_fills == 1
    assert _counted(exchange) == {FEED: 1, OPEN_ORDERS: 1}


@pytest.mark.parametrize("n", [10, 200])
def test_a_position_monitor_cycle_costs_seven_requests(db, jobs, exchange, n):
    jobs = _unlimited(jobs, PROTECTION_MODE="staged")
    _book(db, jobs, exchange, ["101.00"] * n, protect=True)
    assert len(db.query("position_tracking")) == n
    jobs.position_monitor()  # the day's START snapshot and the first marks
    exchange.control.reset_counters()
    report = jobs.position_monitor()
    assert report.actions == []
    # ... today's deposits and withdrawals, for the daily loss guard (MAX_DAILY_LOSS), and
    # the fee activities (R15): fixed reads, not growing with N.
    assert _counted(exchange) == {FEED: 1, OPEN_ORDERS: 1, "GET /v2/positions": 1,
                                  "GET /v2/account": 1, "GET /v2/stocks/snapshots": 1,
                                  "GET /v2/account/activities": 2}
    assert report.broker_requests == 7


@pytest.mark.parametrize("n", [10, 100])
def test_an_executor_cycle_costs_one_post_per_decision_and_fixed_reads(db, jobs, exchange, n):
    jobs = _unlimited(jobs, MAX_PRICE_DEVIATION_PCT="10", CHECK_BUYING_POWER="true")
    exchange.control.set_prices({s: "100.00" for s in SYMBOLS})
    for i in range(n):
        add_decision(db, entry(SYMBOLS[i % len(SYMBOLS)], entry_price="95.00",
                               stop_loss="85.00", take_profit="120.00", quantity=1))
    exchange.control.reset_counters()
    report = jobs.executor()
    assert report.count("EXECUTED") == n
    counted = _counted(exchange)
    assert counted.pop("POST /v2/orders") == n
    assert counted.pop("GET /v2/assets/{symbol_or_asset_id}") == len(SYMBOLS)
    assert counted == {"GET /v2/account": 1, "GET /v2/positions": 1, "GET /v2/clock": 1,
                       "GET /v2/stocks/snapshots": 1, "GET /v2/account/activities": 1}, counted
    assert jobs.executor().broker_requests == 0  # nothing left to do
