"""Inside the session but before EXECUTOR_TIME (issue 24): a CANCEL, and an AMEND's cancel,
act at once through the daemon's `cancels` cycle; a NEW_TRADE, and the AMEND's new entry,
wait for EXECUTOR_TIME. Outside the session nothing acts. The real daemon on the paper
exchange, DECISION_POLLING=false: whatever happens was carried by a notification."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.conftest import exchange_env
from tests.helpers import add_decision, entry
from tests.integration.test_daemon_notify import NY, Running, listening, outcome, wait_for
from tests.support.jobs import Jobs
from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.transport import RequestBudget
from trading_monitor.daemon.app import Daemon
from trading_monitor.daemon.woken import CANCELS
from trading_monitor.db.connection import TradingDB
from trading_monitor.engine.halts import set_halt
from trading_monitor.settings.config import load_settings

EARLY = NY.localize(datetime(2026, 11, 20, 9, 31))  # a Friday, after the open
AT_TIME = NY.localize(datetime(2026, 11, 20, 9, 45, 1))


@pytest.fixture
def running() -> Iterator[Running]:
    r = Running()
    try:
        yield r
    finally:
        r.stop_all()


def _resting_entry(db: TradingDB, jobs: Jobs) -> int:
    """A SWING buy resting below the market, placed by a one-shot cycle: its trade id."""
    decision = add_decision(db, entry())
    jobs.executor()
    found = outcome(db, decision)
    assert found is not None and found["terminal_state"] == "EXECUTED"
    return int(found["trade_journal_id"])


def _buys(exchange: Any) -> list[dict[str, Any]]:
    return [o for o in exchange.control.orders() if o["side"] == "buy"]


def _started(running: Running, db_params: dict[str, Any], exchange: Any) -> Daemon:
    daemon = running.start(db_params, exchange, EXECUTOR_TIME="09:45")
    # Listening, and the start-up catch-up (a cancels-only cycle) is over; the executor's
    # own wish waits for 9:45.
    wait_for(lambda: listening(daemon) and daemon.dispatcher is not None
             and daemon.dispatcher.cycles >= 1 and CANCELS not in daemon.dispatcher._wishes)
    return daemon


def test_a_cancel_before_executor_time_acts_at_once(db, jobs, db_params, exchange, running):
    exchange.venue.set_clock(EARLY)
    journal_id = _resting_entry(db, jobs)
    _started(running, db_params, exchange)
    waiting = add_decision(db, entry("MSFT", entry_price="400.00", stop_loss="390.00",
                                     take_profit="450.00"))
    cancel = add_decision(db, {"ticker": "AAPL", "primary_action": "CANCEL",
                               "existing_trade_journal_id": journal_id},
                          existing_trade_journal_id=journal_id)
    found = wait_for(lambda: outcome(db, cancel))
    assert found["terminal_state"] == "EXECUTED", found["reason"]
    assert [o["status"] for o in _buys(exchange)] == ["canceled"]
    assert db.get_by_id("trade_journal", journal_id)["status"] == "CANCELLED"
    # The NEW_TRADE beside it was left as it was: no outcome, nothing sent, not executed.
    assert outcome(db, waiting) is None and not db.get_by_id("analysis_decision",
                                                             waiting)["executed"]
    exchange.venue.set_clock(AT_TIME)
    assert wait_for(lambda: outcome(db, waiting))["terminal_state"] == "EXECUTED"
    assert sorted(o["symbol"] for o in _buys(exchange)) == ["AAPL", "MSFT"]


def test_a_cancel_written_before_the_open_acts_at_the_open(db, jobs, db_params, exchange,
                                                        running):
    """Outside the session nothing acts; the open is the first moment a CANCEL may."""
    exchange.venue.set_clock(NY.localize(datetime(2026, 11, 20, 9, 10)))
    journal_id = _resting_entry(db, jobs)
    daemon = running.start(db_params, exchange, EXECUTOR_TIME="09:45")
    wait_for(lambda: listening(daemon))
    cancel = add_decision(db, {"ticker": "AAPL", "primary_action": "CANCEL",
                               "existing_trade_journal_id": journal_id},
                          existing_trade_journal_id=journal_id)
    time.sleep(2.0)  # several of the dispatcher's once-a-second checks
    assert outcome(db, cancel) is None
    assert [o["status"] for o in _buys(exchange)] != ["canceled"]
    exchange.venue.set_clock(NY.localize(datetime(2026, 11, 20, 9, 30, 1)))
    assert wait_for(lambda: outcome(db, cancel))["terminal_state"] == "EXECUTED"
    assert [o["status"] for o in _buys(exchange)] == ["canceled"]


def test_an_amends_cancel_acts_at_once_its_new_entry_at_executor_time(db, jobs, db_params,
                                                                      exchange, running):
    exchange.venue.set_clock(EARLY)
    journal_id = _resting_entry(db, jobs)
    _started(running, db_params, exchange)
    amend = add_decision(db, entry(primary_action="AMEND", entry_price="176.00",
                                   existing_trade_journal_id=journal_id),
                         existing_trade_journal_id=journal_id)
    # The old entry is withdrawn (its cycle committed); the new one is written, not sent.
    wait_for(lambda: db.get_by_id("trade_journal", journal_id)["status"] == "CANCELLED")
    assert [o["status"] for o in _buys(exchange)] == ["canceled"]
    time.sleep(1.5)  # the dispatcher's once-a-second checks pass over the wish
    assert outcome(db, amend) is None and len(_buys(exchange)) == 1
    exchange.venue.set_clock(AT_TIME)
    found = wait_for(lambda: outcome(db, amend))
    assert found["terminal_state"] == "EXECUTED", found["reason"]
    buys = _buys(exchange)
    assert [(o["status"], o["limit_price"]) for o in buys][0][0] == "canceled"
    assert len(buys) == 2 and str(buys[1]["limit_price"]).startswith("176")
    assert buys[1]["status"] in ("new", "accepted")
    new_trade = db.get_by_id("trade_journal", found["trade_journal_id"])
    assert new_trade["status"] == "PENDING" and new_trade["id"] != journal_id


def test_a_cancel_on_a_holiday_waits(db, db_params, exchange, running):
    """Nothing on a holiday, the cancels-only cycle neither (a CANCEL naming no trade would
    end REJECTED at once if any cycle ran)."""
    exchange.venue.set_clock(NY.localize(datetime(2026, 11, 26, 9, 35)))  # Thanksgiving
    daemon = running.start(db_params, exchange, EXECUTOR_TIME="09:45")
    wait_for(lambda: listening(daemon))
    cancel = add_decision(db, {"ticker": "AAPL", "primary_action": "CANCEL",
                               "existing_trade_journal_id": 999},
                          existing_trade_journal_id=999)
    time.sleep(2.0)  # several of the dispatcher's once-a-second checks
    assert outcome(db, cancel) is None
    assert not db.query("job_run", {"job_name": "order_executor"})


# -- a deaf listening connection ------------------------------------------------------------

def _listener_backends(db: TradingDB) -> set[int]:
    return {int(r["pid"]) for r in db.execute_query(
        "SELECT pid FROM pg_stat_activity WHERE application_name = "
        "'trading-monitor notify listener' AND datname = current_database()")}


def test_a_deaf_listening_connection_is_replaced_and_nothing_is_lost(db, db_params, exchange,
                                                                    running):
    """The listener's server process is frozen (SIGSTOP): its socket stays open and quiet, as
    behind a dead NAT or a hung backend, so nothing raises. The self-ping (every second here,
    30 s by default), sent from another connection, is not heard back: the connection is
    replaced, and the catch-up acts on the decision written while it was deaf."""
    settings = load_settings(exchange_env(exchange, DECISION_POLLING="false"), need_broker=True)
    daemon = Daemon(settings, db_params, AlpacaBroker(settings, budget=RequestBudget(100_000)),
                    now=exchange.venue.clock.now, election_seconds=0.2, heartbeat_seconds=0.5)
    daemon.listener_options = {"ping_seconds": 1.0, "ping_timeout": 1.0}
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    running.daemons.append((daemon, thread))
    wait_for(lambda: listening(daemon) and daemon.dispatcher is not None
             and daemon.dispatcher.cycles >= 1 and not daemon.dispatcher._wishes)
    listener = daemon.notify_listener
    assert listener is not None and listener.connections == 1
    [frozen] = wait_for(lambda: _listener_backends(db))
    os.kill(frozen, signal.SIGSTOP)
    try:
        decision = add_decision(db, entry())  # its NOTIFY goes to the frozen backend only
        found = wait_for(lambda: outcome(db, decision), 30)
        assert found["terminal_state"] == "EXECUTED"
        assert listener.connections >= 2 and daemon.notify_listener is listener
        assert _listener_backends(db) - {frozen}  # a new one listens
    finally:
        os.kill(frozen, signal.SIGCONT)  # it finds its client gone and exits


def test_a_halt_holds_woken_entries(db, db_params, exchange, running):
    """A drawdown halt (the position monitor's risk check sets it; only `resume` clears it): a
    woken NEW_TRADE ends REJECTED with the halt's reason and nothing reaches the broker."""
    set_halt(db, "test", "halt_drawdown", "on", "equity 12% under its peak")
    daemon = running.start(db_params, exchange)
    wait_for(lambda: listening(daemon))
    decision = add_decision(db, entry())
    found = wait_for(lambda: outcome(db, decision))
    assert found["terminal_state"] == "REJECTED" and "drawdown halt" in found["reason"]
    assert exchange.control.orders() == []
