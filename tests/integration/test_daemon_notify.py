"""Decisions acted on within a second: the leader's LISTEN, through the real daemon on the
paper exchange and real PostgreSQL (the triggers of migration 0012:
tests/integration/test_daemon_notify_triggers.py).

Every daemon here runs with DECISION_POLLING=false, so whatever reaches the broker was
carried by a notification (or the catch-up after a (re)connection), never by the poll.
Nothing asserts a duration: each test waits for the state it expects.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
import pytz

from tests.conftest import exchange_env
from tests.helpers import add_decision, entry
from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.transport import RequestBudget
from trading_monitor.daemon.app import Daemon
from trading_monitor.daemon.wakeups import UNSUPPORTED, UP
from trading_monitor.db.connection import TradingDB
from trading_monitor.settings.config import load_settings

NY = pytz.timezone("America/New_York")


def wait_for(condition: Callable[[], Any], seconds: float = 20) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(0.05)


class Running:
    """Daemons started in threads, each stopped at the end of the test."""

    def __init__(self) -> None:
        self.daemons: list[tuple[Daemon, threading.Thread]] = []

    def start(self, db_params: dict[str, Any], exchange: Any, *,
              listen_config: dict[str, Any] | None = None, **env: str) -> Daemon:
        settings = load_settings(exchange_env(exchange, DECISION_POLLING="false", **env),
                                 need_broker=True)
        broker = AlpacaBroker(settings, budget=RequestBudget(100_000))
        daemon = Daemon(settings, db_params, broker, now=exchange.venue.clock.now,
                        election_seconds=0.2, heartbeat_seconds=0.5,
                        listen_config=listen_config)
        thread = threading.Thread(target=daemon.run, daemon=True)
        thread.start()
        self.daemons.append((daemon, thread))
        return daemon

    def stop_all(self) -> None:
        for daemon, thread in self.daemons:
            daemon.stop()
            thread.join(timeout=30)


@pytest.fixture
def running() -> Iterator[Running]:
    r = Running()
    try:
        yield r
    finally:
        r.stop_all()


def listening(daemon: Daemon) -> bool:
    return daemon.notify_listener is not None and daemon.notify_listener.state == UP


def settled_cycles(daemon: Daemon) -> int:
    """Woken cycles so far, once the start-up catch-up is over."""
    wait_for(lambda: listening(daemon) and daemon.dispatcher is not None
             and daemon.dispatcher.cycles >= 1 and not daemon.dispatcher._wishes)
    assert daemon.dispatcher is not None
    return daemon.dispatcher.cycles


def outcome(db: TradingDB, decision_id: int) -> dict[str, Any] | None:
    rows = db.query("decision_outcome", {"analysis_decision_id": decision_id})
    return rows[0] if rows else None


def executor_runs(db: TradingDB) -> int:
    return len(db.query("job_run", {"job_name": "order_executor"}))


# -- the daemon -----------------------------------------------------------------------------

def test_a_decision_reaches_the_broker_without_the_poll(db, db_params, exchange, running):
    daemon = running.start(db_params, exchange)
    before = settled_cycles(daemon)
    decision = add_decision(db, entry())
    found = wait_for(lambda: outcome(db, decision))
    assert found["terminal_state"] == "EXECUTED"
    assert [o for o in exchange.control.orders() if o["client_order_id"] ==
            found["client_order_id"]]
    wait_for(lambda: [r["notify_listener"] for r in db.query("daemon_heartbeat")] == ["up"])
    # Its own write-backs (executed, existing_order_id, the outcome) wake nothing.
    time.sleep(1.0)
    assert daemon.dispatcher is not None and daemon.dispatcher.cycles == before + 1


def test_a_burst_of_100_decisions_is_one_cycle(db, db_params, exchange, running):
    daemon = running.start(db_params, exchange, BLOCK_DUPLICATE_ENTRY="false",
                           BLOCK_SAME_DAY_REENTRY="false")
    settled_cycles(daemon)
    runs = executor_runs(db)
    ids = [add_decision(db, entry(quantity=1)) for _ in range(100)]
    wait_for(lambda: all(outcome(db, i) for i in ids), 60)
    assert executor_runs(db) == runs + 1
    assert len([o for o in exchange.control.orders() if o["side"] == "buy"]) == 100


def test_the_kill_switch_wakes_the_executor_and_halts_entries(db, db_params, exchange,
                                                               running):
    daemon = running.start(db_params, exchange)
    before = settled_cycles(daemon)
    db.execute_update("INSERT INTO system_state (key, value, reason) "
                      "VALUES ('kill_switch', 'on', 'test')")
    wait_for(lambda: daemon.dispatcher is not None and daemon.dispatcher.cycles > before)
    decision = add_decision(db, entry())
    found = wait_for(lambda: outcome(db, decision))
    assert found["terminal_state"] != "EXECUTED" and "kill switch" in found["reason"]
    assert exchange.control.orders() == []


def test_a_new_trade_before_executor_time_waits_then_goes(db, db_params, exchange, running):
    exchange.venue.set_clock(NY.localize(datetime(2026, 11, 20, 9, 40)))
    running.start(db_params, exchange, EXECUTOR_TIME="09:45")
    daemon = running.daemons[0][0]
    wait_for(lambda: listening(daemon))
    decision = add_decision(db, entry())
    time.sleep(2.0)  # several of the dispatcher's once-a-second checks
    assert outcome(db, decision) is None and exchange.control.orders() == []
    exchange.venue.set_clock(NY.localize(datetime(2026, 11, 20, 9, 45, 1)))
    assert wait_for(lambda: outcome(db, decision))["terminal_state"] == "EXECUTED"


def test_nothing_on_a_holiday(db, db_params, exchange, running):
    exchange.venue.set_clock(NY.localize(datetime(2026, 11, 26, 11, 0)))  # Thanksgiving
    daemon = running.start(db_params, exchange)
    wait_for(lambda: listening(daemon))
    runs = executor_runs(db)
    decision = add_decision(db, entry())
    time.sleep(2.0)
    assert outcome(db, decision) is None and executor_runs(db) == runs
    assert exchange.control.orders() == []


def test_only_the_leader_acts(db, db_params, exchange, running):
    leader = running.start(db_params, exchange)
    wait_for(lambda: listening(leader))
    standby = running.start(db_params, exchange)
    wait_for(lambda: standby.scheduler.running)
    time.sleep(0.5)  # a few elections: the standby stays standby
    decision = add_decision(db, entry())
    wait_for(lambda: outcome(db, decision))
    assert standby.notify_listener is None and standby.dispatcher is None
    assert standby.state.ran == 0
    # What each writes into its heartbeat row, for `health` (one process here: one row).
    assert (leader.listener_state(), standby.listener_state()) == ("up", None)


def test_a_dropped_listening_connection_loses_nothing(db, db_params, exchange, running):
    daemon = running.start(db_params, exchange)
    wait_for(lambda: listening(daemon))
    assert daemon.notify_listener is not None
    db.execute_query("SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity "
                     "WHERE application_name = 'trading-monitor notify listener'")
    decision = add_decision(db, entry())  # likely while nobody listens
    assert wait_for(lambda: outcome(db, decision))["terminal_state"] == "EXECUTED"
    wait_for(lambda: daemon.notify_listener is not None
             and daemon.notify_listener.connections >= 2 and listening(daemon))


def test_a_connection_that_cannot_hear_its_notify_falls_back_to_polling(
        db, db_params, exchange, running, caplog):
    # The listener on another database hears nothing the triggers' database sends, as
    # behind PgBouncer in transaction mode.
    elsewhere = {**db_params, "dbname": "postgres"}
    daemon = running.start(db_params, exchange, listen_config=elsewhere)
    wait_for(lambda: daemon.notify_listener is not None
             and daemon.notify_listener.state == UNSUPPORTED)
    assert any("does not hear its own NOTIFY" in r.message for r in caplog.records)
    wait_for(lambda: [r["notify_listener"] for r in db.query("daemon_heartbeat")]
             == ["unsupported"])


def test_an_exit_approval_acts_at_once(db, db_params, exchange, jobs, running):
    staged = jobs.with_settings(PROTECTION_MODE="staged")
    decision = add_decision(db, entry(entry_price="181.00", stop_loss="175.00",
                                      take_profit="190.00", trade_style="DAYTRADE"))
    staged.executor()
    staged.order_monitor()  # filled: a position with its stop alone
    found = outcome(db, decision)
    assert found is not None
    journal_id = found["trade_journal_id"]
    exchange.control.set_price("AAPL", "191.00")
    staged.position_monitor()  # at its target: waits for the trader's approval
    assert db.query("position_tracking", {"trade_journal_id": journal_id})[0][
        "target_reached_at"] is not None
    daemon = running.start(db_params, exchange, PROTECTION_MODE="staged")
    settled_cycles(daemon)
    assert not [o for o in exchange.control.orders() if o["order_type"] == "market"]
    db.execute_update("UPDATE position_tracking SET exit_approved = true "
                      "WHERE trade_journal_id = %s", [journal_id])  # the NocoDB checkbox
    wait_for(lambda: [o for o in exchange.control.orders()
                      if o["side"] == "sell" and o["order_type"] == "market"])


def test_the_kill_switch_stops_a_cycle_that_is_sending(db, db_params, exchange, running):
    """Flipped while a burst goes out: the gate closes on its notification, so at most the
    one submit already on the wire still lands; the rest end REJECTED with the halt."""
    daemon = running.start(db_params, exchange, BLOCK_DUPLICATE_ENTRY="false",
                           BLOCK_SAME_DAY_REENTRY="false")
    settled_cycles(daemon)
    exchange.control.set_fault("POST /v2/orders", "latency", ms=150, probability=1.0)
    ids = [add_decision(db, entry(quantity=1)) for _ in range(30)]
    entries = lambda: [o for o in exchange.control.orders() if o["side"] == "buy"]  # noqa: E731
    wait_for(lambda: len(entries()) >= 3)
    db.execute_update("INSERT INTO system_state (key, value, reason) "
                      "VALUES ('kill_switch', 'on', 'test')")
    at_flip = len(entries())
    outcomes = wait_for(lambda: [o for i in ids if (o := outcome(db, i))] if all(
        outcome(db, i) for i in ids) else None, 60)
    sent = len(entries())
    assert sent <= at_flip + 1 and sent < len(ids)
    executed = [o for o in outcomes if o["terminal_state"] == "EXECUTED"]
    assert len(executed) == sent
    assert all("halted" in o["reason"] or "kill switch" in o["reason"]
               for o in outcomes if o["terminal_state"] != "EXECUTED")


def test_no_daytrade_entry_after_the_cut_off_even_when_woken(db, db_params, exchange,
                                                              running):
    exchange.venue.set_clock(NY.localize(datetime(2026, 11, 20, 15, 52)))  # after 15:50
    daemon = running.start(db_params, exchange)
    wait_for(lambda: listening(daemon))
    decision = add_decision(db, entry(trade_style="DAYTRADE"))
    found = wait_for(lambda: outcome(db, decision))
    assert found["terminal_state"] == "SKIPPED" and "DAYTRADE" in found["reason"]
    assert exchange.control.orders() == []


def test_woken_cycles_keep_to_their_share_of_the_request_budget(db, db_params, exchange,
                                                                 running):
    """Past half of BROKER_REQUESTS_PER_MINUTE spent by woken cycles in the last minute, a
    decision waits (for the poll, or for the window to clear): the monitors' share."""
    daemon = running.start(db_params, exchange, BROKER_REQUESTS_PER_MINUTE="40")
    settled_cycles(daemon)
    daemon._spent.append((time.monotonic(), 20))  # as if woken cycles had spent 20 of 40
    decision = add_decision(db, entry())
    time.sleep(2.0)
    assert outcome(db, decision) is None and exchange.control.orders() == []
    daemon._spent.clear()  # the minute has passed
    assert wait_for(lambda: outcome(db, decision))["terminal_state"] == "EXECUTED"
