"""Executor hardening, points 3 to 6 and 9: resume from stored state, one decision never
takes down the cycle, limits across processes and time, protection overnight, and the
liquidity guard and risk_pct sizing. Against the paper exchange through alpaca-py."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from decimal import Decimal

import pytest
import requests

from tests.conftest import exchange_env
from tests.helpers import (
    add_decision,
    decision,
    entry,
    exchange_now,
    ledger,
    orders_at_broker,
    our_orders,
    outcome,
    write_test_intent,
)
from tests.support.jobs import Jobs
from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.errors import classify
from trading_monitor.broker.transport import RequestBudget
from trading_monitor.exceptions import ConfigError, FatalError
from trading_monitor.settings.config import load_settings

NO_LIMITS = {"MAX_NOTIONAL_PER_ORDER": "off", "MAX_TOTAL_EXPOSURE": "off"}


def _jobs(jobs: Jobs, **env) -> Jobs:
    return jobs.with_settings(**env)


def _entry_row(db, d: int):
    return [r for r in our_orders(db, d) if r["order_role"] == "ENTRY"][-1]


# -- 3. resume is a function of the stored state --------------------------------------------

def test_a_recorded_rejection_is_settled_never_resent(db, jobs,
                                                      exchange):
    """An earlier run recorded the broker's refusal, then died before closing the intent."""
    d = add_decision(db, entry())
    intent = write_test_intent(db, d)
    ledger(db).mark_orders([intent.entry, *intent.legs], "rejected",
                           "broker rejected the request (403): insufficient buying power")
    exchange.control.reset_counters()
    jobs.executor()
    result = outcome(db, d)
    assert result["terminal_state"] == "REJECTED" and "insufficient buying power" in (
        result["reason"])
    assert exchange.control.counters().get("POST /v2/orders", 0) == 0
    assert db.get_by_id("trade_journal", intent.journal_id)["status"] == "REJECTED"


def test_the_outcome_records_what_was_sent_not_the_edited_row(db, jobs,
                                                              exchange):
    d = add_decision(db, entry())
    write_test_intent(db, d)
    db.execute_update("UPDATE analysis_decision SET decision = %s WHERE id = %s",
                      [__import__("json").dumps(entry(quantity=20)), d])
    jobs.executor()
    result = outcome(db, d)
    assert result["terminal_state"] == "EXECUTED"
    assert "buy 10 AAPL" in result["reason"]
    [sent] = orders_at_broker(exchange, result["client_order_id"])
    assert sent["qty"] == "10"


def test_a_changed_action_is_rejected_and_the_sent_order_stays_tracked(db, jobs, broker, exchange):
    d = add_decision(db, entry())
    intent = write_test_intent(db, d)
    from trading_monitor.ledger import order_request

    broker.submit_order(order_request(intent))  # it reached the broker, then the crash
    db.execute_update("UPDATE analysis_decision SET primary_action = 'CANCEL', decision = %s "
                      "WHERE id = %s", ['{"primary_action": "CANCEL", "existing_order_id": "x"}',
                                        d])
    jobs.executor()
    result = outcome(db, d)
    assert result["terminal_state"] == "REJECTED"
    assert "was changed after its NEW_TRADE intent" in result["reason"]
    assert f"stays tracked as trade #{intent.journal_id}" in result["reason"]
    assert _entry_row(db, d)["alpaca_order_id"] is not None  # adopted, not orphaned
    assert len(orders_at_broker(exchange, intent.client_order_id)) == 1


def test_a_changed_action_before_sending_withdraws_the_intent(db, jobs,
                                                              exchange):
    d = add_decision(db, entry())
    intent = write_test_intent(db, d)
    db.execute_update("UPDATE analysis_decision SET decision = 'null'::json WHERE id = %s", [d])
    jobs.executor()
    result = outcome(db, d)
    assert result["terminal_state"] == "REJECTED" and "never reached the broker" in (
        result["reason"])
    assert {r["order_status"] for r in our_orders(db, d)} == {"not_sent"}
    assert db.get_by_id("trade_journal", intent.journal_id)["status"] == "REJECTED"
    assert exchange.control.orders() == []


# -- 4. one decision never takes down the cycle --------------------------------------------

def test_a_403_on_submit_rejects_that_decision_and_the_cycle_goes_on(db, jobs, exchange):
    first = add_decision(db, entry())
    second = add_decision(db, entry("MSFT", entry_price="410.00", stop_loss="400.00",
                                    take_profit="440.00", quantity=1))
    exchange.control.set_fault("POST /v2/orders", "http_status", status=403, code=40310000,
                               message="insufficient buying power", count=1)
    jobs.executor()
    result = outcome(db, first)
    assert result["terminal_state"] == "REJECTED"
    assert "insufficient buying power" in result["reason"] and "403" in result["reason"]
    assert outcome(db, second)["terminal_state"] == "EXECUTED"


def test_a_403_on_the_account_is_fatal(db, jobs, exchange):
    d = add_decision(db, entry())
    exchange.control.set_fault("GET /v2/account", "http_status", status=403, code=40310000,
                               message="forbidden", count=5)
    with pytest.raises(FatalError, match="403"):
        jobs.executor()
    assert decision(db, d)["executed"] is False  # nothing lost


def test_a_database_refusal_in_one_decision_rejects_only_that_one(db, jobs, exchange):
    # A real refusal by PostgreSQL (standing in for a CHECK we did not foresee).
    db.execute_update("""
        CREATE FUNCTION refuse_nvda() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.symbol = 'NVDA' THEN RAISE EXCEPTION 'nvda refused by a rule'; END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_nvda BEFORE INSERT ON trade_journal
            FOR EACH ROW EXECUTE FUNCTION refuse_nvda();""")
    bad = add_decision(db, entry("NVDA", entry_price="125.00", stop_loss="120.00",
                                 take_profit="140.00"))
    good = add_decision(db, entry())
    jobs.executor()
    result = outcome(db, bad)
    assert result["terminal_state"] == "REJECTED"
    assert "database refused this decision's rows: nvda refused by a rule" in result["reason"]
    assert outcome(db, good)["terminal_state"] == "EXECUTED"
    assert [o["symbol"] for o in exchange.control.orders() if o["order_type"] == "limit"
            and o["side"] == "buy"] == ["AAPL"]
    jobs.executor()  # and later cycles are not blocked either


def test_a_malformed_key_is_a_clear_configuration_error(exchange):
    with pytest.raises(ConfigError) as err:
        load_settings(exchange_env(exchange, ALPACA_API_KEY="PKTEST KEY\n"), need_broker=True)
    assert "ALPACA_API_KEY: Value error, must be printable ASCII" in str(err.value)
    assert "PKTEST" not in str(err.value)


def test_a_malformed_header_is_fatal_not_temporary():
    assert isinstance(classify(requests.exceptions.InvalidHeader("bad header")), FatalError)


# -- 5. limits across processes and over time ------------------------------------------------

def test_two_executors_cannot_both_pass_the_position_limit(db, jobs, exchange):
    jobs = _jobs(jobs, MAX_OPEN_POSITIONS="1", **NO_LIMITS)
    first = add_decision(db, entry())
    second = add_decision(db, entry("MSFT", entry_price="410.00", stop_loss="400.00",
                                    take_profit="440.00", quantity=1))

    # Slow account reads make both executors read the account at the same time: without
    # the cycle lock each would count 0 open positions and both would pass the limit.
    exchange.control.set_fault("GET /v2/account", "latency", ms=500, count=2)

    def executor() -> None:
        # each its own process: a broker of its own
        jobs.with_broker(AlpacaBroker(jobs.settings, budget=RequestBudget(100_000))).executor()

    threads = [threading.Thread(target=executor) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    states = sorted(outcome(db, i)["terminal_state"] for i in (first, second))
    assert states == ["EXECUTED", "REJECTED"]
    assert "max open positions reached" in outcome(db, second)["reason"]
    assert len([o for o in exchange.control.orders() if o["order_type"] == "limit"
                and o["side"] == "buy"]) == 1


def test_a_naive_created_at_cannot_keep_a_decision_waiting(db, jobs,
                                                           exchange):
    db.execute_update("ALTER TABLE analysis_decision ALTER COLUMN created_at "
                      "TYPE timestamp without time zone")
    d = add_decision(db, entry())
    naive = exchange_now().astimezone(timezone.utc).replace(tzinfo=None)
    db.execute_update("UPDATE analysis_decision SET created_at = %s - interval '3 days' "
                      "WHERE id = %s", [naive, d])
    jobs.executor()
    assert "stale decision: written 72.0h ago" in outcome(db, d)["reason"]


def test_a_table_without_created_at_still_runs(db, jobs, exchange):
    db.execute_update("ALTER TABLE analysis_decision DROP COLUMN created_at")
    d = add_decision(db, entry())
    jobs.executor()
    assert outcome(db, d)["terminal_state"] == "EXECUTED"


def test_a_decision_deferred_too_often_is_rejected_with_its_history(db, jobs, exchange, caplog):
    jobs = _jobs(jobs, MAX_DEFERRALS="3")
    d = add_decision(db, entry())
    exchange.control.set_fault("POST /v2/orders", "http_status", status=503, count=1000)
    with caplog.at_level(logging.ERROR):
        for _ in range(3):
            jobs.executor()
    result = outcome(db, d)
    assert result["terminal_state"] == "REJECTED"
    assert result["reason"].startswith("gave up after 3 deferrals (MAX_DEFERRALS=3)")
    assert "503" in result["reason"] and "(x" in result["reason"]
    assert any("ALERT" in r.message for r in caplog.records)


# -- 6. protection survives the night ---------------------------------------------------------

def test_a_swing_bracket_is_gtc_with_a_day_entry(db, jobs, exchange):
    d = add_decision(db, entry())
    jobs.executor()
    [sent] = orders_at_broker(exchange, outcome(db, d)["client_order_id"])
    assert sent["order_class"] == "bracket"
    assert {o["time_in_force"] for o in exchange.control.orders()} == {"gtc"}  # legs too
    row = _entry_row(db, d)
    close = datetime(2026, 11, 20, 21, 0, tzinfo=timezone.utc)  # 16:00 New York
    assert row["entry_expires_at"] == close
    journal = db.get_by_id("trade_journal", row["trade_journal_id"])
    assert (journal["time_in_force"], journal["protection_time_in_force"]) == ("day", "gtc")


def test_an_unfilled_swing_entry_is_withdrawn_after_its_session(db, jobs, exchange):
    d = add_decision(db, entry())
    jobs.executor()
    jid = outcome(db, d)["trade_journal_id"]
    exchange.control.set_clock(datetime(2026, 11, 20, 21, 5, tzinfo=timezone.utc))
    report = jobs.executor()
    assert report.expired == 1
    journal = db.get_by_id("trade_journal", jid)
    assert journal["status"] == "EXPIRED" and "unfilled at the end" in journal["exit_reason"]
    assert {o["status"] for o in exchange.control.orders()} == {"canceled"}


def test_an_expired_entry_is_expired_whichever_job_records_the_cancel_first(
        db, jobs, exchange):
    """The expiry's cancel went out (its run died before recording it, say): the order
    monitor, which sees the broker's `canceled` first, books the trade EXPIRED too."""

    d = add_decision(db, entry())
    jobs.executor()
    jid = outcome(db, d)["trade_journal_id"]
    exchange.control.set_clock(datetime(2026, 11, 20, 21, 5, tzinfo=timezone.utc))
    jobs.broker.cancel_order(_entry_row(db, d)["alpaca_order_id"])
    jobs.order_monitor()
    journal = db.get_by_id("trade_journal", jid)
    assert journal["status"] == "EXPIRED"
    jobs.executor()  # the expiry job afterwards changes nothing
    assert db.get_by_id("trade_journal", jid)["status"] == "EXPIRED"


def test_a_daytrade_bracket_stays_day(db, jobs, exchange):
    d = add_decision(db, entry(trade_style="DAYTRADE"))
    jobs.executor()
    [sent] = orders_at_broker(exchange, outcome(db, d)["client_order_id"])
    assert sent["time_in_force"] == "day"
    assert _entry_row(db, d)["entry_expires_at"] is None


def test_a_refused_bracket_falls_back_to_staged_protection(db, jobs,
                                                           exchange):
    d = add_decision(db, entry())
    exchange.control.set_fault("POST /v2/orders", "http_status", status=422, code=42210000,
                               message="bracket orders are not supported for this asset",
                               count=1)
    jobs.executor()
    result = outcome(db, d)
    assert result["terminal_state"] == "EXECUTED", result["reason"]
    [sent] = orders_at_broker(exchange)
    assert sent["order_class"] == "simple" and sent["client_order_id"].endswith("-entry-2")
    assert sent["time_in_force"] == "day"
    journal = db.get_by_id("trade_journal", result["trade_journal_id"])
    assert journal["protection_mode"] == "staged"
    assert "bracket orders are not supported" in journal["protection_note"]


# -- 9. liquidity guard and risk_pct sizing ---------------------------------------------------

def test_a_wide_spread_is_rejected_with_the_figures(db, jobs, exchange):
    exchange.control.set_quote("AAPL", "179.00", "181.00")
    d = add_decision(db, entry())
    _jobs(jobs, MAX_SPREAD_PCT="0.5").executor()
    reason = outcome(db, d)["reason"]
    assert "liquidity guard: spread 1.11% (bid 179" in reason and "MAX_SPREAD_PCT 0.5" in reason


def test_a_thin_last_session_is_rejected_and_one_snapshot_request_serves_all(
        db, jobs, exchange):
    exchange.control.set_volume("AAPL", daily=5_000_000, previous=1_000)
    thin = add_decision(db, entry())
    fine = add_decision(db, entry("MSFT", entry_price="410.00", stop_loss="400.00",
                                  take_profit="440.00", quantity=1))
    exchange.control.reset_counters()
    _jobs(jobs, MIN_DAILY_VOLUME="100000").executor()
    # During the session the previous session's bar counts, not today's 15 minutes.
    assert "last session volume 1000 of AAPL is below MIN_DAILY_VOLUME 100000" in (
        outcome(db, thin)["reason"])
    assert outcome(db, fine)["terminal_state"] == "EXECUTED"
    assert exchange.control.counters()["GET /v2/stocks/snapshots"] == 1


def test_risk_pct_sizes_by_equity(db, jobs, exchange):
    jobs = _jobs(jobs, **NO_LIMITS)
    sized = add_decision(db, entry(quantity=None, risk_pct="0.5"))  # 0.5% of 100,000 = 500
    tiny = add_decision(db, entry("MSFT", entry_price="410.00", stop_loss="400.00",
                                  take_profit="440.00", quantity=None, risk_pct="0.001"))
    jobs.executor()
    result = outcome(db, sized)
    assert result["terminal_state"] == "EXECUTED" and "buy 100 AAPL" in result["reason"]
    assert _entry_row(db, sized)["qty"] == Decimal(100)
    assert "position size rounds to 0 shares: risk budget 1.00 over a per-share risk of 10.00" in (
        outcome(db, tiny)["reason"])


def test_an_unsent_intent_is_never_sent_after_a_halt(db, jobs, exchange):
    d = add_decision(db, entry())
    intent = write_test_intent(db, d)  # a crashed run left it unsent
    db.named_update("set_system_value", {"key": "kill_switch", "value": "on",
                                         "reason": "FOMC"})
    _jobs(jobs).executor()
    result = outcome(db, d)
    assert result["terminal_state"] == "REJECTED" and "trading halted" in result["reason"]
    assert {r["order_status"] for r in our_orders(db, d)} == {"not_sent"}
    assert orders_at_broker(exchange, intent.client_order_id) == []
