"""A dry run has no side effects, whatever state it meets (executor hardening, point 2):
zero broker writes (POST, PATCH and DELETE counters unchanged) and zero database writes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import add_decision, entry, outcome, write_test_intent
from trading_monitor.db.connection import TradingDB

TABLES = ("analysis_decision", "trade_journal", "order_execution", "position_tracking",
          "job_run", "decision_outcome", "broker_snapshot", "event_log", "daily_equity",
          "system_state", "fills", "reconciliation_issue")


def _everything(db: TradingDB) -> dict[str, list[dict[str, Any]]]:
    return {t: db.execute_query(f"SELECT * FROM {t} ORDER BY id") for t in TABLES}  # noqa: S608


def _broker_writes(exchange) -> dict[str, int]:
    return {k: v for k, v in exchange.control.counters().items()
            if k.split(" ")[0] in ("POST", "PATCH", "DELETE") and " /v2/" in k}


def _assert_no_side_effects(db, exchange, job) -> Any:
    """`job` (`jobs.executor`, `jobs.order_monitor`, ...) once as a dry run."""
    before = _everything(db)
    exchange.control.reset_counters()
    orders_before = exchange.control.orders()
    report = job(dry_run=True)
    assert _broker_writes(exchange) == {}
    assert exchange.control.orders() == orders_before
    assert _everything(db) == before
    return getattr(report, "outcomes", report)


def test_dry_run_meeting_an_unsent_intent_sends_nothing(db, jobs, exchange):
    d = add_decision(db, entry())
    write_test_intent(db, d)  # a crashed earlier run left it pending_submit
    outcomes = _assert_no_side_effects(db, exchange, jobs.executor)
    assert "would settle" in outcomes[0][3]
    assert exchange.control.orders() == []


def test_dry_run_meeting_a_cancel_and_an_amend_cancels_nothing(db, jobs, exchange):
    first = add_decision(db, entry())
    jobs.executor()
    jid = outcome(db, first)["trade_journal_id"]
    add_decision(db, {"ticker": "AAPL", "primary_action": "CANCEL",
                      "existing_trade_journal_id": jid})
    add_decision(db, entry(primary_action="AMEND", entry_price="176.50",
                           existing_trade_journal_id=jid))
    outcomes = _assert_no_side_effects(db, exchange, jobs.executor)
    assert [o[2] for o in outcomes] == ["DRY_RUN", "DRY_RUN"]
    assert "would cancel" in outcomes[0][3]


def test_dry_run_while_halted_marks_nothing(db, jobs, exchange):
    halted = jobs.with_settings(TRADING_HALTED="true")
    add_decision(db, entry())
    add_decision(db, {"ticker": "MSFT", "primary_action": "NEW_TRADE"})
    outcomes = _assert_no_side_effects(db, exchange, halted.executor)
    assert "would end REJECTED: pre-trade check failed: trading halted" in outcomes[0][3]
    assert "would end REJECTED: malformed decision: NEW_TRADE needs" in outcomes[1][3]


def test_dry_run_writes_no_snapshot_and_no_start_equity(db, jobs, exchange):
    add_decision(db, entry())
    _assert_no_side_effects(db, exchange, jobs.executor)
    assert db.query("broker_snapshot") == [] and db.query("daily_equity") == []


def test_the_database_itself_refuses_a_dry_run_write(db_params):
    with TradingDB(config=db_params, read_only=True) as ro, pytest.raises(Exception,
                                                                          match="read-only"):
        ro.insert("system_state", {"key": "x", "value": "y"})


def test_a_normal_run_writes_one_start_snapshot_per_trading_day(db, jobs):
    for symbol in ("AAPL", "MSFT"):
        add_decision(db, entry(symbol, entry_price="175.00" if symbol == "AAPL" else "410.00",
                               stop_loss="170.00" if symbol == "AAPL" else "400.00",
                               take_profit="190.00" if symbol == "AAPL" else "440.00"))
        jobs.executor()
    assert len(db.query("broker_snapshot", {"snapshot_type": "START"})) == 1
    assert len(db.query("daily_equity")) == 1


def test_the_monitors_dry_runs_write_nothing_whatever_they_find(db, jobs, exchange):
    staged = jobs.with_settings(PROTECTION_MODE="staged")
    d = add_decision(db, entry(entry_price="181.00", stop_loss="175.00", take_profit="195.00"))
    staged.executor()  # filled at once: a position to protect
    report = _assert_no_side_effects(db, exchange, staged.order_monitor)
    assert any("would" in a and "protect" in a for a in report.actions), report.actions
    staged.order_monitor()
    exchange.control.close_position_manually("AAPL")  # something to reconcile
    exchange.control.set_price("AAPL", "200.00")
    report = _assert_no_side_effects(db, exchange, staged.position_monitor)
    assert report.actions and outcome(db, d)["terminal_state"] == "EXECUTED"
