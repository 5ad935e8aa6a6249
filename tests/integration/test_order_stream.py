"""The order stream listener against the paper exchange's trade_updates websocket: a fill is
protected with polling off, booked once when the poll sees it too, and not lost when the
stream drops during the fill. The tests wait for the state; speed is the benchmark's."""

from __future__ import annotations

import time

import pytest

from tests.helpers import add_decision, entry, outcome
from tests.support.jobs import Jobs

# A hang guard, not a speed test: tests wait for the state they assert, however loaded the
# machine (scripts/benchmark.py measures how fast the stream protects a fill).
HANG = 60.0


@pytest.fixture
def staged_jobs(jobs: Jobs) -> Jobs:
    """The jobs on the `staged` fixture's settings: staged protection, polling off."""
    return jobs.with_settings(PROTECTION_MODE="staged", ORDER_POLLING="false")


def _wait(condition, seconds: float = HANG) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > max(seconds, HANG):
            raise AssertionError(f"not within {max(seconds, HANG)}s")
        time.sleep(0.02)
    return time.monotonic() - start


def _protected(exchange) -> bool:
    return any(o["order_class"] == "oco" and o["status"] == "new" for o in
               exchange.control.orders())


def _resting_entry(db, staged_jobs) -> int:
    d = add_decision(db, entry())  # buy limit 175 while AAPL trades at 180
    staged_jobs.executor()
    return int(outcome(db, d)["trade_journal_id"])


def test_a_fill_on_the_stream_is_protected_without_a_poll(db, staged_jobs, exchange, listener):
    jid = _resting_entry(db, staged_jobs)
    exchange.control.set_price("AAPL", "174.00")  # the entry fills now; no job runs after
    took = _wait(lambda: _protected(exchange))
    _wait(lambda: db.get_by_id("trade_journal", jid)["protected_at"] is not None)
    assert db.get_by_id("trade_journal", jid)["status"] == "POSITION"
    print(f"\nstream: fill to protection accepted in {took:.3f}s")


def test_a_fill_seen_on_the_stream_and_in_the_poll_is_booked_once(db, staged_jobs, exchange,
                                                                  listener):
    jid = _resting_entry(db, staged_jobs)
    exchange.control.set_price("AAPL", "174.00")
    _wait(lambda: _protected(exchange), 2.0)
    staged_jobs.order_monitor()  # the poll reads the same fill from the activities
    [fill] = [f for f in db.query("fills", {"trade_journal_id": jid}) if f["side"] == "buy"]
    assert fill["execution_id"] and fill["activity_id"] and fill["source"] == "stream"
    assert db.get_by_id("trade_journal", jid)["actual_qty"] == 10


def test_a_stream_drop_during_the_fill_loses_nothing(db, staged_jobs, exchange, listener):
    jid = _resting_entry(db, staged_jobs)
    exchange.control.set_fault("GET /stream", "stream_disconnect", count=1)
    exchange.control.set_price("AAPL", "174.00")  # its fill event is lost with the socket
    _wait(lambda: _protected(exchange), 10.0)  # the reconnect's full sync books it
    assert db.get_by_id("trade_journal", jid)["status"] == "POSITION"


def test_a_trailing_replace_seen_on_the_stream_leaves_one_live_stop(db, staged_jobs, exchange,
                                                                    listener):
    d = add_decision(db, entry(entry_price="181.00", stop_loss="175.00", take_profit="240.00"))
    staged_jobs.executor()
    _wait(lambda: _protected(exchange), 2.0)
    _wait(lambda: listener.handled >= 2, 5.0)  # the fill and the OCO's events are handled
    exchange.control.set_price("AAPL", "196.00")  # +8.9%: the stop moves to break-even
    before = listener.handled
    staged_jobs.position_monitor()
    _wait(lambda: listener.handled > before, 10.0)  # the replace's events reach the listener
    time.sleep(0.3)
    jid = int(outcome(db, d)["trade_journal_id"])
    live = [r for r in db.query("order_execution", {"trade_journal_id": jid})
            if r["order_role"] == "STOP_LOSS" and r["order_status"] in ("new", "held")]
    assert len(live) == 1 and len({r["alpaca_order_id"] for r in live}) == 1, live
