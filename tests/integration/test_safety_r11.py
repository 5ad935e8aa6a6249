"""R11 (safety review): new protection is not skipped while Alpaca's positions lag a fill.
Within RECONCILE_GRACE_SECONDS of the trade's last fill its own fills size the protection;
after that the broker's positions cap it, and the stream listener tries again within
seconds until the stop is accepted. The lag is the exchange's own (set_position_lag)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.helpers import add_decision, entry, exchange_now, outcome
from tests.stream_fixtures import wait_within
from tests.support.jobs import Jobs
from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.transport import RequestBudget
from trading_monitor.order_monitor.listener import OrderStreamListener
from trading_monitor.settings.config import Settings


def _jobs(jobs: Jobs, **env) -> Jobs:
    return jobs.with_settings(PROTECTION_MODE="staged", ORDER_POLLING="false", **env)


@pytest.fixture
def start_listener(db_params, exchange) -> Iterator:
    started: list[OrderStreamListener] = []

    def start(settings: Settings) -> OrderStreamListener:
        broker = AlpacaBroker(settings, budget=RequestBudget(100_000))
        listening = OrderStreamListener(db_params, broker, settings, now=exchange_now).start()
        started.append(listening)
        wait_within(lambda: listening.connected, 10)
        return listening

    yield start
    for listening in started:
        listening.stop()


def _oco_legs(exchange) -> list[str]:
    return sorted(o["qty"] for o in exchange.control.orders()
                  if o["order_class"] == "oco" and o["status"] in ("new", "held"))


def _aapl_held(broker) -> list:
    return [p for p in broker.get_positions() if p.symbol == "AAPL"]


def _resting_entry(db, jobs) -> int:
    d = add_decision(db, entry())  # buy 10 limit 175 while AAPL trades at 180
    jobs.executor()
    return int(outcome(db, d)["trade_journal_id"])


def test_the_stream_protects_a_fill_the_positions_do_not_show_yet(db, jobs, broker,
                                                                  exchange, start_listener):
    jobs = _jobs(jobs)
    start_listener(jobs.settings)
    jid = _resting_entry(db, jobs)
    exchange.control.set_position_lag(30)  # GET /v2/positions shows the book of 30 s ago
    exchange.control.set_price("AAPL", "174.00")  # the entry fills
    wait_within(lambda: db.get_by_id("trade_journal", jid)["protected_at"] is not None, 10)
    assert _oco_legs(exchange) == ["10", "10"]
    assert _aapl_held(broker) == []  # protected while the broker's positions still lag


def test_a_poll_right_after_a_fill_protects_it(db, jobs, broker, exchange):
    jobs = _jobs(jobs)
    exchange.control.set_position_lag(30)
    d = add_decision(db, entry(entry_price="181.00"))  # marketable: fills on submission
    jobs.executor()
    jid = int(outcome(db, d)["trade_journal_id"])
    jobs.order_monitor()
    assert _oco_legs(exchange) == ["10", "10"] and _aapl_held(broker) == []
    assert db.get_by_id("trade_journal", jid)["protected_at"] is not None


def test_past_the_grace_the_stream_retries_until_the_positions_show_the_fill(
        db, jobs, exchange, start_listener):
    jobs = _jobs(jobs, RECONCILE_GRACE_SECONDS="0")  # always the broker's cap
    listening = start_listener(jobs.settings)
    jid = _resting_entry(db, jobs)
    exchange.control.set_position_lag(3)
    before = listening.handled
    exchange.control.set_price("AAPL", "174.00")  # the entry fills; positions show 0 for 3 s
    wait_within(lambda: listening.handled > before, 10)
    time.sleep(0.3)
    assert _oco_legs(exchange) == []  # capped at the 0 the lagging positions show
    exchange.control.advance(5)  # the positions catch up; no poll runs
    wait_within(lambda: db.get_by_id("trade_journal", jid)["protected_at"] is not None, 15)
    assert _oco_legs(exchange) == ["10", "10"]
