"""The invariant checker against real PostgreSQL and the paper exchange: a clean book holds
every invariant, and each invariant catches one violation seeded in it (by editing rows, or
by acting at the exchange), naming the rows. Requests are counted at the exchange."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import exchange_env
from tests.helpers import add_decision, entry, outcome
from tests.support.jobs import Jobs
from trading_monitor.broker.models import OrderRequest
from trading_monitor.invariants import Options, Report, run_check
from trading_monitor.invariants.cli import main
from trading_monitor.ledger.installation import installation_id
from trading_monitor.settings.config import load_settings

D = Decimal
ROOT = Path(__file__).resolve().parents[2]


BASE = {"PROTECTION_MODE": "staged", "RECONCILE_GRACE_SECONDS": "60",
        "BLOCK_SAME_DAY_REENTRY": "false"}


def _settings(exchange, **env):
    return load_settings(exchange_env(exchange, **{**BASE, **env}), need_broker=True)


def _staged(jobs: Jobs, **env: str) -> Jobs:
    return jobs.with_settings(**{**BASE, **env})


def _check(jobs: Jobs, **options) -> Report:
    """The check on the jobs' database, broker and settings."""
    return run_check(jobs.db_params, jobs.broker, jobs.settings, options=Options(**options))


def _found(report: Report, invariant: str, severity: str = "violation") -> list:
    return [f for f in report.findings if f.invariant == invariant and f.severity == severity]


def _only(report: Report, invariant: str) -> list:
    """The violations, which must all be of `invariant`."""
    violations = [f for f in report.findings if f.severity == "violation"]
    assert {f.invariant for f in violations} == {invariant}, [f.message for f in violations]
    return violations


def _orders(db, jid, role=None) -> list:
    rows = db.query("order_execution", {"trade_journal_id": jid})
    return [r for r in rows if role is None or r["order_role"] == role]


def _clean_book(db, jobs: Jobs, exchange) -> dict[str, int]:
    """One of everything: a bracket and a staged position, a short whose stop trailed, a
    stop-out, a close by hand, a resting entry, a malformed decision, a fresh one."""
    staged = _staged(jobs)
    ids = {"bracket": _staged(jobs, PROTECTION_MODE="bracket").position(db, "AAPL")}
    ids["short"] = staged.position(db, "MSFT", side="SELL",
                             entry_price="419.00", stop_loss="430.00", take_profit="380.00")
    ids["stopped"] = staged.position(db, "NVDA", trade_style="DAYTRADE",
                               take_profit=None)
    ids["by_hand"] = staged.position(db, "TSLA")
    resting = add_decision(db, entry("AMD", entry_price="140.00", stop_loss="135.00",
                                     take_profit="160.00"))
    add_decision(db, {"ticker": "SPY", "primary_action": "NEW_TRADE"})  # malformed
    staged.executor()
    ids["resting"] = int(outcome(db, resting)["trade_journal_id"])
    exchange.control.set_price("NVDA", "124.00")
    exchange.control.advance(1)
    staged.order_monitor()  # NVDA stopped out
    exchange.control.set_prices({"MSFT": "385.00", "TSLA": "255.00"})
    exchange.control.close_position_manually("TSLA")
    staged.position_monitor()  # the MSFT short's stop trails
    exchange.control.advance(61)
    staged.position_monitor()  # TSLA: gone at the broker, booked at the trader's fill
    exchange.control.advance(6 * 60)
    staged.order_monitor()  # the TSLA protection left over is cancelled
    ids["fresh"] = add_decision(db, entry("SPY", entry_price="590.00", stop_loss="580.00",
                                          take_profit="620.00", quantity=1))
    return ids


def test_a_clean_book_holds_every_invariant_in_four_requests(db, jobs, exchange):
    ids = _clean_book(db, jobs, exchange)
    journal = {k: db.get_by_id("trade_journal", v) for k, v in ids.items() if k != "fresh"}
    assert (journal["stopped"]["status"], journal["stopped"]["exit_reason_code"]) == (
        "CLOSED", "STOPPED_OUT")
    assert journal["by_hand"]["exit_reason_code"] == "MANUAL"
    assert db.query("position_tracking", {"trade_journal_id": ids["short"]})[0]["trail_step"] == 1
    exchange.control.reset_counters()
    report = _check(_staged(jobs))
    assert report.findings == [], [f.message for f in report.findings]
    assert report.exit_code == 0
    # open orders, positions, every order since our first, and the exchange's clock
    assert exchange.control.counters() == {"GET /v2/orders": 2, "GET /v2/positions": 1,
                                           "GET /v2/clock": 1}
    assert report.broker_requests == 4
    assert {report.status(i) for i in ("live_stop", "single_entry", "snapshots")} == {"pass"}


# -- every decision has exactly one terminal state ------------------------------------------

def test_an_executed_decision_without_its_terminal_state_is_caught(db, jobs, exchange):
    jobs = _staged(jobs)
    jid = jobs.position(db)
    d = db.get_by_id("trade_journal", jid)["initial_analysis_id"]
    db.execute_update("DELETE FROM decision_outcome WHERE analysis_decision_id = %s", [d])
    [v] = _only(_check(jobs), "terminal_state")
    assert v.decision_id == d and v.message.startswith(f"decision #{d} (AAPL NEW_TRADE)")
    assert "marked executed but has no terminal state" in v.message


def test_a_decision_pending_past_its_age_is_a_warning_only(db, jobs, exchange):
    jobs = _staged(jobs)
    d = add_decision(db, entry())
    db.execute_update("UPDATE analysis_decision SET created_at = now() - interval '30 hours' "
                      "WHERE id = %s", [d])
    report = _check(jobs)
    [w] = report.findings
    assert (w.severity, w.decision_id, report.exit_code) == ("warning", d, 0)
    assert "still pending after 30.0 h" in w.message
    assert _check(jobs, pending_age=timedelta(hours=48)).findings == []


# -- every open position has a live stop at the broker for its full quantity ----------------

def test_a_stop_cancelled_by_hand_at_the_broker_is_caught(db, jobs, broker, exchange):
    jobs = _staged(jobs)
    jid = jobs.position(db, trade_style="DAYTRADE", take_profit=None)
    [stop] = _orders(db, jid, "STOP_LOSS")
    broker.cancel_order(stop["alpaca_order_id"])  # our rows still say it is live
    [v] = _only(_check(jobs), "live_stop")
    assert (v.trade_id, v.decision_id) == (jid, 1)
    assert v.message == (f"trade #{jid} AAPL (decision #1): 10 shares long at the broker, "
                         "live stops cover 0 (no live stop)")


def test_a_stop_whose_cancel_is_pending_at_the_flatten_still_protects(db, jobs, exchange):
    """The end-of-day flatten follows its stop's cancel; while it is pending the stop works at
    the broker (and Alpaca takes no exit for its shares): a warning, not a violation. Once
    the cancel is final with no exit, it is a violation again."""
    jobs = _staged(jobs)
    jid = jobs.position(db, trade_style="DAYTRADE", take_profit=None)
    [stop] = _orders(db, jid, "STOP_LOSS")
    exchange.control.set_clock(datetime(2026, 11, 20, 20, 50, tzinfo=timezone.utc))  # 15:50
    exchange.control.set_cancel_behavior("pending", seconds=300,
                                         client_order_id=stop["client_order_id"])
    jobs.order_monitor(sleep=lambda seconds: exchange.control.advance(seconds))
    [row] = [o for o in exchange.control.orders()
             if o["client_order_id"] == stop["client_order_id"]]
    assert row["status"] == "pending_cancel"
    assert [o for o in exchange.control.orders() if o["order_type"] == "market"] == []
    report = _check(jobs)
    assert _found(report, "live_stop") == [], [f.message for f in report.findings]
    [w] = _found(report, "live_stop", "warning")
    assert w.trade_id == jid and w.detail["cancel_pending"] == "10"
    assert w.message == (f"trade #{jid} AAPL (decision #1): 10 shares long at the broker, "
                         "live stops cover 0 (no live stop); a stop for 10 whose cancel is "
                         "pending protects until the broker's final word")
    exchange.control.advance(300)  # the cancel is final; no cycle has sent the exit yet
    [v] = _only(_check(jobs), "live_stop")
    assert v.trade_id == jid


def test_a_partly_filled_bracket_warns_inside_its_window_and_fails_after(db, jobs, exchange):
    jobs = _staged(jobs, PROTECTION_MODE="bracket")
    exchange.control.set_partial_fill(symbol="AAPL", ratio="0.4")
    jid = jobs.position(db)  # 4 of 10 filled, the legs held
    report = _check(jobs)
    [w] = report.findings
    assert (w.invariant, w.severity, w.trade_id, report.exit_code) == (
        "live_stop", "warning", jid, 0)
    assert "bracket entry still partly filled" in w.message
    exchange.control.set_price("AAPL", "185.00")  # the rest stays unfilled
    exchange.control.advance(8 * 60)  # past PARTIAL_ENTRY_TIMEOUT_SECONDS and one poll
    [v] = _only(_check(jobs), "live_stop")
    assert v.trade_id == jid and "4 shares long at the broker, live stops cover 0" in v.message
    assert f"(tm-{installation_id(db)}-d1-stop_loss held: a leg of an entry not filled " \
           "completely)" in v.message


def test_a_position_flipped_at_the_broker_is_caught(db, jobs, broker, exchange):
    """An exit that sold more than we held leaves the broker short, with no stop for it."""
    jobs = _staged(jobs)
    jid = jobs.position(db, trade_style="DAYTRADE", take_profit=None)
    [stop] = _orders(db, jid, "STOP_LOSS")
    broker.cancel_order(stop["alpaca_order_id"])
    for n in (1, 2):  # the trader's close, then a second sell: a short sale
        broker.submit_order(OrderRequest(client_order_id=f"by-hand-{n}", symbol="AAPL",
                                         side="sell", qty=D(10), order_type="market",
                                         time_in_force="day"))
    assert [p.qty for p in broker.get_positions()] == [D(-10)]
    [v] = _only(_check(jobs), "live_stop")
    assert v.message == (f"trade #{jid} AAPL (decision #1): the broker holds 10 AAPL short, "
                         "the other side of ours, and live stops cover 0 of it")


# -- journal, orders, fills and positions agree ---------------------------------------------

def _stopped_out(db, jobs: Jobs, exchange) -> int:
    jid = jobs.position(db, "NVDA", trade_style="DAYTRADE",
                    take_profit=None)
    exchange.control.set_price("NVDA", "124.00")
    exchange.control.advance(1)
    jobs.order_monitor()
    assert db.get_by_id("trade_journal", jid)["status"] == "CLOSED"
    return jid


@pytest.mark.parametrize("seed, expected", [
    ("no_position_row", "is POSITION but has no position row"),
    ("qty_not_fills", "the position row holds 7 shares, its fills 10 (10 in, 0 out)"),
    ("closed_with_open_orders", "is CLOSED but has open orders: tm-"),
])
def test_books_that_disagree_are_caught(db, jobs, exchange, seed, expected):
    jobs = _staged(jobs)
    if seed == "closed_with_open_orders":
        jid = _stopped_out(db, jobs, exchange)
        [stop] = _orders(db, jid, "STOP_LOSS")
        db.execute_update("UPDATE order_execution SET order_status = 'new' WHERE id = %s",
                          [stop["id"]])
    else:
        jid = jobs.position(db)
        db.execute_update("DELETE FROM position_tracking WHERE trade_journal_id = %s"
                          if seed == "no_position_row" else
                          "UPDATE position_tracking SET qty = 7 WHERE trade_journal_id = %s",
                          [jid])
    fresh = _check(jobs)  # within one poll of the last fill
    assert fresh.exit_code == 0 and [f.severity for f in _found(fresh, "books_agree", "warning")]
    exchange.control.advance(6 * 60)
    [v] = _only(_check(jobs), "books_agree")
    assert v.trade_id == jid and expected in v.message, v.message
    if seed == "closed_with_open_orders":
        assert v.client_order_id == stop["client_order_id"]
        assert "(new in our books)" in v.message


# -- no decision has more than one entry order at the broker --------------------------------

def test_a_second_entry_order_of_a_decision_at_the_broker_is_caught(db, jobs, broker,
                                                                    exchange):
    jobs = _staged(jobs)
    jid = jobs.position(db)
    inst = installation_id(db)
    second = broker.submit_order(OrderRequest(
        client_order_id=f"tm-{inst}-d1-entry-2", symbol="AAPL", side="buy", qty=D(1),
        order_type="limit", time_in_force="day", limit_price=D("170.00")))
    twice, unknown = _only(_check(jobs), "single_entry")
    assert twice.message == (f"decision #1 has 2 entry orders at the broker: "
                             f"tm-{inst}-d1-entry (filled), tm-{inst}-d1-entry-2 (new)")
    assert (twice.decision_id, twice.trade_id) == (1, jid)
    assert unknown.client_order_id == f"tm-{inst}-d1-entry-2"
    assert "no order row of ours records it" in unknown.message
    # Recorded in our rows too: --no-broker sees it from the rows alone.
    db.insert("order_execution", {
        "trade_journal_id": jid, "analysis_decision_id": 1,
        "client_order_id": second.client_order_id, "alpaca_order_id": second.id,
        "order_role": "ENTRY", "symbol": "AAPL", "side": "buy",
        "order_type": "limit", "time_in_force": "day", "qty": D(1), "order_status": "new",
        "submitted_at": second.submitted_at})
    [rows] = _only(run_check(jobs.db_params, None, jobs.settings), "single_entry")
    assert rows.message.startswith("decision #1 has 2 entry rows sent to the broker")


# -- the P&L of each closed trade equals its fills ------------------------------------------

def test_a_pnl_that_its_fills_do_not_give_is_caught(db, jobs, exchange):
    jobs = _staged(jobs)
    jid = _stopped_out(db, jobs, exchange)
    assert db.get_by_id("trade_journal", jid)["actual_pnl"] == D("-60.00")
    db.execute_update("UPDATE trade_journal SET actual_pnl = -59 WHERE id = %s", [jid])
    [v] = _only(_check(jobs), "pnl_matches_fills")
    assert v.message == (f"trade #{jid} NVDA (decision #1): actual_pnl is -59.00, its fills "
                         "give -60.00")
    # An exit no fill confirms (an EXTERNAL close at the last price) is not checked.
    db.execute_update("UPDATE trade_journal SET exit_estimated = true WHERE id = %s", [jid])
    report = _check(jobs)
    [info] = report.findings
    assert (info.severity, info.trade_id, report.exit_code) == ("info", jid, 0)


def test_a_hand_close_is_priced_at_the_traders_fill(db, jobs, exchange):
    jobs = _staged(jobs)
    jid = jobs.position(db, "TSLA")
    exchange.control.set_price("TSLA", "255.00")
    exchange.control.close_position_manually("TSLA")
    for _ in range(2):  # gone at the broker: booked at the trader's fill after the grace
        exchange.control.advance(61)
        jobs.position_monitor()
    journal = db.get_by_id("trade_journal", jid)
    assert (journal["exit_reason_code"], journal["actual_pnl"]) == ("MANUAL", D(50))
    assert _found(_check(jobs), "pnl_matches_fills") == []
    # Books from before reconciliation attached the trader's fill to the trade: the fill of
    # no trade between entry and exit still prices the close.
    db.execute_update("UPDATE fills SET trade_journal_id = NULL WHERE symbol = 'TSLA' "
                      "AND side = 'sell'")
    assert _found(_check(jobs), "pnl_matches_fills") == []
    db.execute_update("UPDATE trade_journal SET actual_pnl = 45 WHERE id = %s", [jid])
    [v] = _only(_check(jobs), "pnl_matches_fills")
    assert v.message.endswith("actual_pnl is 45.00, its fills give 50.00")
    db.execute_update("DELETE FROM fills WHERE symbol = 'TSLA' AND side = 'sell'")
    [v] = _only(_check(jobs), "pnl_matches_fills")
    assert "exit fills close 0 of 10 shares and no fill of the trader's explains the rest" \
        in v.message


# -- no entry was sent while a reconciliation FAIL or a halt stood --------------------------

HALT_SEEDS = {
    "halt_reconciliation": "INSERT INTO event_log (run_id, entity, event, message, to_status, "
                           "created_at) VALUES ('seed', 'system_state', 'halt_set', "
                           "'halt_reconciliation: reconciliation failed past its grace', 'on', "
                           "%(at)s)",
    "kill_switch": "INSERT INTO event_log (run_id, entity, event, message, to_status, "
                   "created_at) VALUES ('seed', 'system_state', 'halt_set', "
                   "'kill_switch: FOMC day', 'on', %(at)s)",
    "halt_daily_loss": "INSERT INTO event_log (run_id, entity, event, message, to_status, "
                       "created_at) VALUES ('seed', 'system_state', 'halt_set', "
                       "'halt_daily_loss: down 2500.00 today', '2026-11-20', %(at)s)",
    "reconciliation FAIL": "INSERT INTO broker_snapshot (run_id, snapshot_type, trading_day, "
                           "reconciliation_status, discrepancies, created_at) VALUES ('seed', "
                           "'RECONCILIATION', '2026-11-20', 'FAIL', "
                           "'[{\"kind\": \"QTY_MISMATCH\", \"symbol\": \"MSFT\"}]', %(at)s)",
    "by hand": "INSERT INTO system_state (key, value, reason, updated_at) VALUES "
               "('kill_switch', 'on', 'set in NocoDB', %(at)s) ON CONFLICT (key) DO UPDATE "
               "SET value = 'on'",
}


def _entry_sent(db, jobs: Jobs) -> dict:
    jid = jobs.position(db)
    [row] = _orders(db, jid, "ENTRY")
    return row


@pytest.mark.parametrize("seed", sorted(HALT_SEEDS))
def test_an_entry_sent_inside_a_halt_is_caught(db, jobs, exchange, seed):
    jobs = _staged(jobs)
    row = _entry_sent(db, jobs)
    db.execute_update(HALT_SEEDS[seed], {"at": row["submitted_at"] - timedelta(minutes=1)})
    [v] = _only(_check(jobs), "no_entry_in_halt")
    assert (v.client_order_id, v.decision_id, v.trade_id) == (
        row["client_order_id"], 1, row["trade_journal_id"])
    what = "kill_switch" if seed == "by hand" else seed
    assert f"was submitted at {row['submitted_at'].isoformat()} while {what} since" in v.message


def test_an_entry_racing_a_halt_warns_and_one_after_it_cleared_passes(db, jobs, exchange):
    jobs = _staged(jobs)
    row = _entry_sent(db, jobs)
    at = row["submitted_at"]
    db.execute_update(HALT_SEEDS["kill_switch"], {"at": at - timedelta(seconds=2)})
    report = _check(jobs)
    [w] = report.findings
    assert (w.severity, report.exit_code) == ("warning", 0) and "a race" in w.message
    db.execute_update("INSERT INTO event_log (run_id, entity, event, message, from_status, "
                      "created_at) VALUES ('seed', 'system_state', 'halt_cleared', "
                      "'kill_switch: resumed', 'on', %s)", [at - timedelta(seconds=1)])
    assert _check(jobs).findings == []


# -- every order recorded as sent is at the broker (seed 001 E) -----------------------------

@pytest.mark.parametrize("seed, expected", [
    ("no_broker_id", "is filled in our books but carries no broker order id"),
    ("unknown_id", "has broker id 00000000-0000-4000-8000-000000000000, which the broker does "
                   "not know"),
    ("other_order", "at the broker (broker id"),
])
def test_an_order_the_broker_does_not_have_is_caught(db, jobs, exchange, seed, expected):
    jobs = _staged(jobs)
    jid = jobs.position(db, trade_style="DAYTRADE", take_profit=None)
    [row] = _orders(db, jid, "ENTRY")
    [stop] = _orders(db, jid, "STOP_LOSS")
    value = {"no_broker_id": None, "unknown_id": "00000000-0000-4000-8000-000000000000",
             "other_order": stop["alpaca_order_id"]}[seed]
    db.execute_update("UPDATE order_execution SET alpaca_order_id = %s WHERE id = %s",
                      [value, row["id"]])
    [v] = _only(_check(jobs), "orders_are_real")
    assert v.client_order_id == row["client_order_id"] and expected in v.message, v.message
    assert v.message.startswith(f"order {row['client_order_id']} (row #{row['id']}, trade #{jid}")
    if seed == "other_order":
        assert f"is {stop['client_order_id']} at the broker" in v.message


# -- one START and at most one END snapshot per trading day (seed 001 F) --------------------

def test_a_second_start_snapshot_of_a_day_is_caught(db, jobs, exchange):
    jobs = _staged(jobs)
    jobs.position(db)
    jobs.position_monitor()
    [start] = db.query("broker_snapshot", {"snapshot_type": "START"})
    db.insert("broker_snapshot", {"run_id": "seed", "snapshot_type": "START",
                                  "trading_day": start["trading_day"]})
    [v] = _only(_check(jobs), "snapshots")
    assert v.message.startswith("trading day 2026-11-20 has 2 START snapshots")


# -- the rows alone (no broker): the edges of the record checks -----------------------------

def _rows_only(db_params, exchange, **options) -> Report:
    return run_check(db_params, None, _settings(exchange), now=exchange.venue.clock.now,
                     options=Options(**options))


@pytest.mark.parametrize("seed, expected", [
    ("not_executed", "has the terminal state EXECUTED (outcome #1) but is not marked executed"),
    ("two_outcomes", "has 2 terminal states: EXECUTED (outcome #1), REJECTED (outcome #2)"),
    ("no_decision", "decision_outcome #1 (EXECUTED) names decision #1, which does not exist"),
])
def test_terminal_states_that_do_not_add_up_are_caught(db, jobs, exchange, seed, expected):
    _staged(jobs).position(db)
    if seed == "not_executed":
        db.execute_update("UPDATE analysis_decision SET executed = false WHERE id = 1")
    elif seed == "two_outcomes":  # a production table without our unique constraint
        db.execute_update("ALTER TABLE decision_outcome DROP CONSTRAINT "
                          "uq_decision_outcome_decision")
        db.insert("decision_outcome", {"run_id": "seed", "analysis_decision_id": 1,
                                       "terminal_state": "REJECTED", "reason": "twice"})
    else:
        db.execute_update("DELETE FROM analysis_decision WHERE id = 1")
    [v] = _only(_rows_only(jobs.db_params, exchange), "terminal_state")
    assert expected in v.message and v.decision_id == 1


def test_decisions_before_the_first_one_checked_are_left_out(db, db_params, exchange):
    legacy = add_decision(db, entry(), executed=True)  # marked by the old workflow
    assert _only(_rows_only(db_params, exchange), "terminal_state")[0].decision_id == legacy
    assert _rows_only(db_params, exchange, first_decision=legacy + 1).findings == []


@pytest.mark.parametrize("seed, severity, expected", [
    ("past_day_without_start", "violation", "trading day 2026-11-19 has snapshots but no START"),
    ("today_without_start", "warning", "trading day 2026-11-20 has snapshots but no START"),
    ("past_day_without_end", "warning", "trading day 2026-11-19 has no END snapshot"),
    ("fail_without_discrepancies", "violation", "says FAIL but lists no discrepancy"),
    ("no_status", "violation", "has no PASS/FAIL status"),
])
def test_snapshot_days_that_do_not_add_up(db, db_params, exchange, seed, severity, expected):
    kind = {"past_day_without_end": "START"}.get(seed, "RECONCILIATION")
    day = "2026-11-20" if seed in ("today_without_start", "no_status",
                                   "fail_without_discrepancies") else "2026-11-19"
    status = {"fail_without_discrepancies": "FAIL", "no_status": None}.get(seed, "PASS")
    db.insert("broker_snapshot", {"run_id": "seed", "snapshot_type": kind, "trading_day": day,
                                  "reconciliation_status": status})
    if seed in ("fail_without_discrepancies", "no_status"):
        db.insert("broker_snapshot", {"run_id": "seed", "snapshot_type": "START",
                                      "trading_day": day})
    [f] = _rows_only(db_params, exchange).findings
    assert (f.invariant, f.severity) == ("snapshots", severity) and expected in f.message


def test_halt_windows_end_where_the_halt_ended(db, jobs, exchange):
    """A loss halt of yesterday, one set twice and cleared, a FAIL a PASS followed: none
    stood when the entry went out."""
    row = _entry_sent(db, _staged(jobs))
    at = row["submitted_at"]
    events = [("halt_set", "halt_daily_loss: down", "2026-11-19", at - timedelta(days=1)),
              ("halt_set", "halt_drawdown: 20% down", "on", at - timedelta(hours=3)),
              ("halt_set", "halt_drawdown: 25% down", "on", at - timedelta(hours=2)),
              ("halt_cleared", "halt_drawdown: resumed by ops", None, at - timedelta(hours=1)),
              ("halt_set", "halt_reconciliation: QTY_MISMATCH", "on", at - timedelta(minutes=9)),
              ("halt_cleared", "halt_reconciliation: resumed", None, at - timedelta(minutes=8))]
    for event, message, value, when in events:
        db.execute_update("INSERT INTO event_log (run_id, entity, event, message, to_status, "
                          "created_at) VALUES ('seed', 'system_state', %s, %s, %s, %s)",
                          [event, message, value, when])
    for status, discrepancies, when in [("FAIL", '[{"kind": "UNPROTECTED"}]', 10),
                                        ("PASS", None, 5), ("FAIL", '[{"kind": "UNTRACKED"}]', 9)]:
        db.execute_update("INSERT INTO broker_snapshot (run_id, snapshot_type, trading_day, "
                          "reconciliation_status, discrepancies, created_at) VALUES ('seed', "
                          "'RECONCILIATION', '2026-11-20', %s, %s, %s)",
                          [status, discrepancies, at - timedelta(minutes=when)])
    db.execute_update("INSERT INTO system_state (key, value, reason) VALUES "
                      "('halt_daily_loss', '2026-11-19', 'yesterday')")
    assert _found(_rows_only(jobs.db_params, exchange), "no_entry_in_halt") == []


# -- the command: exit codes, --json, --no-broker, the script -------------------------------

@pytest.fixture
def command_env(monkeypatch, tmp_path, db_params, exchange):
    """The environment a shell gives `trading-monitor check`: this test's database and the
    exchange, nothing else (no stray .env)."""
    for key in list(os.environ):
        if key.startswith(("ALPACA_", "POSTGRES_", "TEST_POSTGRES", "TEST_DATABASE", "DATABASE_")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    env = {**exchange_env(exchange), "DATABASE_URL": _url(db_params)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def _url(params) -> str:
    return f"postgresql://{params['user']}@{params['host']}:{params['port']}/{params['dbname']}"


def test_the_command_exits_0_when_clean_and_1_naming_the_rows(db, jobs, broker, exchange,
                                                              command_env, capsys):
    jobs = _staged(jobs)
    jid = jobs.position(db, trade_style="DAYTRADE", take_profit=None)
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("check OK: 8 invariants hold; broker read in 4 requests")
    assert "  ok    live_stop          every open position has a live stop at the broker" in out
    [stop] = _orders(db, jid, "STOP_LOSS")
    broker.cancel_order(stop["alpaca_order_id"])
    assert main([]) == 1
    out = capsys.readouterr().out
    assert out.startswith("check FAILED: 1 violation (live_stop); broker read in 4 requests")
    assert f"VIOLATION  live_stop          trade #{jid} AAPL (decision #1): 10 shares" in out
    assert "  FAIL  live_stop" in out
    assert main(["--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["ok"], report["exit_code"], report["counts"]["violation"]) == (False, 1, 1)
    [finding] = report["findings"]
    assert (finding["invariant"], finding["trade_id"], finding["decision_id"]) == (
        "live_stop", jid, 1)
    assert {i["name"]: i["status"] for i in report["invariants"]}["live_stop"] == "fail"
    assert report["broker"] == {"read": True, "requests": 4}


def test_no_broker_skips_the_broker_reads_and_says_so(db, jobs, broker, exchange,
                                                      command_env, capsys):
    jid = _staged(jobs).position(db, take_profit=None, trade_style="DAYTRADE")
    [stop] = _orders(db, jid, "STOP_LOSS")
    broker.cancel_order(stop["alpaca_order_id"])  # only the broker knows
    exchange.control.reset_counters()
    on_exchange_time = exchange.venue.clock.now  # without the broker, no broker clock either
    assert main(["--no-broker"], now=on_exchange_time) == 0
    out = capsys.readouterr().out
    assert exchange.control.counters() == {}
    assert out.startswith("check OK: 8 invariants hold; broker not read (--no-broker)")
    assert "  skip  live_stop" in out and "[not checked: --no-broker" in out
    assert "[broker part not checked: --no-broker" in out
    assert main(["--no-broker", "--json"], now=on_exchange_time) == 0
    report = json.loads(capsys.readouterr().out)
    statuses = {i["name"]: i["status"] for i in report["invariants"]}
    assert statuses["live_stop"] == "skipped" and statuses["terminal_state"] == "pass"


def test_warnings_alone_exit_0_and_are_printed(db, command_env, capsys):
    d = add_decision(db, entry())
    db.execute_update("UPDATE analysis_decision SET created_at = now() - interval '3 days' "
                      "WHERE id = %s", [d])
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "1 warning" in out.splitlines()[0]
    assert f"WARNING    terminal_state     decision #{d} (AAPL NEW_TRADE) is still pending" in out
    assert main(["--pending-age-hours", "100"]) == 0
    assert "WARNING" not in capsys.readouterr().out


def test_an_unreadable_database_or_broker_exits_3(command_env, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    assert main(["--no-broker"]) == 3
    assert "check could not run: DatabaseUnavailable" in capsys.readouterr().err
    assert main(["--json", "--no-broker"]) == 3
    assert json.loads(capsys.readouterr().out)["exit_code"] == 3


def test_a_broker_away_exits_3_and_bad_settings_2(db, command_env, monkeypatch, capsys):
    monkeypatch.setenv("ALPACA_BASE_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("BROKER_READ_RETRIES", "0")
    assert main([]) == 3
    assert "check could not run: TemporaryError" in capsys.readouterr().err
    monkeypatch.delenv("ALPACA_API_KEY")
    assert main([]) == 2
    assert "ALPACA_API_KEY" in capsys.readouterr().err


def test_the_script_and_the_console_command_are_the_same(db, command_env, capsys):
    from trading_monitor.cli import dispatch as cli

    assert cli.main(["check", "--no-broker"]) == 0
    assert capsys.readouterr().out.startswith("check OK")
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_invariants.py"),
                           "--json", "--no-broker"], capture_output=True, text=True,
                          env={**os.environ, **command_env}, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"] is True
