"""Crash drills for the executor: a real subprocess killed with SIGKILL at every named
crash point, for a NEW_TRADE, a CANCEL and an AMEND, then run again.

After the restart, counted at the exchange (/control/orders), not in our tables:
exactly one broker entry order per decision (at most one live entry per trade), every
decision terminal, and no PENDING journal without a live or settled order. Then the
invariant checker (`trading-monitor check`'s API, live stops read from the broker) passes
and the exchange's own counts find no duplicate and no unprotected position
(tests/drills/support.py). The monitors' points are drilled below, and the daemon's
in tests/drills/test_drills_monitors.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter

import pytest

from tests.conftest import exchange_env
from tests.drills.support import assert_books_hold
from tests.helpers import add_decision, entry, outcome
from tests.support.jobs import Jobs
from trading_monitor.crashpoints import ENV_VAR, EXECUTOR_POINTS

pytestmark = pytest.mark.drills

LIVE = {"new", "accepted", "partially_filled", "pending_cancel", "pending_replace", "held"}


def _executor_process(db_params, exchange, tmp_path, point: str) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA", "POSTGRES"))}
    env.update(exchange_env(exchange))
    env["DATABASE_URL"] = (f"postgresql://{db_params['user']}@{db_params['host']}:"
                           f"{db_params['port']}/{db_params['dbname']}")
    env[ENV_VAR] = point
    done = subprocess.run([sys.executable, "-m", "trading_monitor.order_executor"], env=env,
                          cwd=tmp_path, capture_output=True, timeout=120)
    assert done.returncode in (0, -signal.SIGKILL), done.stderr.decode()[-2000:]
    return done.returncode


def _setup(scenario: str, db, jobs: Jobs) -> list[int]:
    if scenario == "NEW_TRADE":
        return [add_decision(db, entry())]
    first = add_decision(db, entry())
    jobs.executor()
    jid = outcome(db, first)["trade_journal_id"]
    if scenario == "CANCEL":
        return [add_decision(db, {"ticker": "AAPL", "primary_action": "CANCEL",
                                  "existing_trade_journal_id": jid})]
    return [add_decision(db, entry(primary_action="AMEND", entry_price="176.50",
                                   existing_trade_journal_id=jid))]


def _assert_invariants(db, exchange) -> None:
    at_broker = exchange.control.orders()
    sent = Counter(o["client_order_id"] for o in at_broker)
    entries = db.query("order_execution", {"order_role": "ENTRY"})
    for row in entries:
        assert sent[row["client_order_id"]] <= 1, f"{row['client_order_id']} sent twice"
        if row["order_status"] not in ("not_sent", "rejected", "pending_submit"):
            assert sent[row["client_order_id"]] == 1
    live_entries = [o for o in at_broker if o["side"] == "buy" and o["order_type"] == "limit"
                    and o["status"] in LIVE]
    assert len(live_entries) <= 1, "two live entries for one trade"
    for d in db.query("analysis_decision"):
        assert d["executed"] is True, f"decision #{d['id']} not terminal"
        assert len(db.query("decision_outcome", {"analysis_decision_id": d["id"]})) == 1
    for journal in db.query("trade_journal", {"status": "PENDING"}):
        [row] = [r for r in entries if r["trade_journal_id"] == journal["id"]][-1:]
        assert row["order_status"] != "pending_submit", f"trade #{journal['id']} stuck"
        assert sent[row["client_order_id"]] == 1 and row["alpaca_order_id"]


@pytest.mark.parametrize("scenario", ["NEW_TRADE", "CANCEL", "AMEND"])
@pytest.mark.parametrize("point", EXECUTOR_POINTS)
def test_kill_at_every_point_then_restart(scenario, point, db, db_params, settings, jobs,
                                          exchange, tmp_path):
    _setup(scenario, db, jobs)
    code = _executor_process(db_params, exchange, tmp_path, point)
    print(f"\ncrash drill {scenario} at {point}: "
          f"{'killed' if code == -signal.SIGKILL else 'not reached, exited 0'}")
    jobs.executor()  # the restart
    _assert_invariants(db, exchange)
    assert_books_hold(db, db_params, exchange, settings)


# -- the order monitor ---------------------------------------------------------------------

def _monitor_process(db_params, exchange, tmp_path, point: str) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA", "POSTGRES"))}
    env.update(exchange_env(exchange, PROTECTION_MODE="staged"))
    env["DATABASE_URL"] = (f"postgresql://{db_params['user']}@{db_params['host']}:"
                           f"{db_params['port']}/{db_params['dbname']}")
    env[ENV_VAR] = point
    done = subprocess.run([sys.executable, "-m", "trading_monitor.order_monitor"], env=env,
                          cwd=tmp_path, capture_output=True, timeout=120)
    assert done.returncode in (0, -signal.SIGKILL), done.stderr.decode()[-2000:]
    return done.returncode


def _protective_at_broker(exchange) -> list[dict]:
    return [o for o in exchange.control.orders() if o["side"] == "sell"
            and o["order_type"] == "limit" or o["order_type"] == "stop"]


@pytest.mark.parametrize("point", ["after_fill_seen", "after_stop_submit"])
def test_monitor_killed_between_a_fill_and_its_stop(point, db, db_params, broker, jobs, exchange,
                                                    tmp_path):
    staged = jobs.with_settings(PROTECTION_MODE="staged")
    d = add_decision(db, entry(entry_price="181.00", stop_loss="175.00", take_profit="195.00"))
    staged.executor()  # fills at once
    jid = outcome(db, d)["trade_journal_id"]
    assert _monitor_process(db_params, exchange, tmp_path, point) == -signal.SIGKILL
    staged.order_monitor()  # the restart
    ocos = [o for o in exchange.control.orders() if o["order_class"] == "oco"
            and o["order_type"] == "limit"]
    assert len(ocos) == 1 and ocos[0]["status"] == "new", ocos  # protected, never twice
    journal = db.get_by_id("trade_journal", jid)
    assert journal["status"] == "POSITION" and journal["protected_at"] is not None
    assert_books_hold(db, db_params, exchange, staged.settings)


def test_monitor_killed_between_an_exit_fill_and_the_close(db, db_params, broker, jobs, exchange,
                                                           tmp_path):
    staged = jobs.with_settings(PROTECTION_MODE="staged")
    d = add_decision(db, entry(entry_price="181.00", stop_loss="175.00", take_profit="195.00"))
    staged.executor()
    jid = outcome(db, d)["trade_journal_id"]
    staged.order_monitor()
    exchange.control.set_price("AAPL", "170.00")
    exchange.control.advance(1)
    assert _monitor_process(db_params, exchange, tmp_path, "in_exit") == -signal.SIGKILL
    assert db.get_by_id("trade_journal", jid)["status"] == "POSITION"
    staged.order_monitor()
    journal = db.get_by_id("trade_journal", jid)
    assert (journal["status"], journal["exit_reason_code"]) == ("CLOSED", "STOPPED_OUT")
    assert len(db.query("fills", {"trade_journal_id": jid})) == 2  # entry and exit, once each
    assert_books_hold(db, db_params, exchange, staged.settings)


def test_position_monitor_killed_in_reconciliation(db, db_params, broker, jobs, exchange, tmp_path):
    staged = jobs.with_settings(PROTECTION_MODE="staged")
    d = add_decision(db, entry(entry_price="181.00", stop_loss="175.00", take_profit="195.00"))
    staged.executor()
    staged.order_monitor()
    exchange.control.close_position_manually("AAPL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA", "POSTGRES"))}
    env.update(exchange_env(exchange, PROTECTION_MODE="staged"))
    env["DATABASE_URL"] = (f"postgresql://{db_params['user']}@{db_params['host']}:"
                           f"{db_params['port']}/{db_params['dbname']}")
    env[ENV_VAR] = "in_reconciliation"
    done = subprocess.run([sys.executable, "-m", "trading_monitor.position_monitor"], env=env,
                          cwd=tmp_path, capture_output=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    staged.position_monitor()  # the restart
    exchange.control.advance(61)  # past the reconciliation grace
    staged.position_monitor()
    journal = db.get_by_id("trade_journal", outcome(db, d)["trade_journal_id"])
    assert (journal["status"], journal["exit_reason_code"]) == ("CLOSED", "MANUAL")
    assert len([o for o in exchange.control.orders() if o["side"] == "buy"]) == 1
    assert_books_hold(db, db_params, exchange, staged.settings)


def test_a_stop_that_fills_before_it_was_recorded_closes_the_trade_once(
        db, db_params, broker, jobs, exchange, tmp_path):
    staged = jobs.with_settings(PROTECTION_MODE="staged")
    d = add_decision(db, entry(trade_style="DAYTRADE", take_profit=None, entry_price="181.00",
                               stop_loss="175.00"))
    staged.executor()
    assert _monitor_process(db_params, exchange, tmp_path, "after_stop_submit") == (
        -signal.SIGKILL)
    exchange.control.set_price("AAPL", "174.00")  # the unrecorded stop fills
    exchange.control.advance(1)
    staged.order_monitor()
    staged.order_monitor()
    journal = db.get_by_id("trade_journal", outcome(db, d)["trade_journal_id"])
    assert (journal["status"], journal["exit_reason_code"]) == ("CLOSED", "STOPPED_OUT")
    assert broker.get_positions() == []  # no second stop, so no short
    stops = [o for o in exchange.control.orders() if o["order_type"] == "stop"]
    assert len(stops) == 1
    assert_books_hold(db, db_params, exchange, staged.settings)
