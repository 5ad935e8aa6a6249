"""Each pre-trade check, through the executor: REJECTED with its reason, nothing sent."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from tests.helpers import add_decision, entry, orders_at_broker, outcome
from trading_monitor.broker.models import OrderRequest


@pytest.mark.parametrize(("body", "words"), [
    (entry(stop_loss="176.00"), "stop_loss 176.00 must be below entry"),
    (entry(side="SELL", stop_loss="170.00", take_profit="165.00"), "must be above entry"),
    (entry(take_profit="174.00"), "take_profit 174.00 must be above entry"),
    (entry(quantity=None, risk_amount="1"), "position size rounds to 0 shares: risk budget 1 "
                                            "over a per-share risk of 5.00"),
    (entry("ZZZZ"), "unknown symbol ZZZZ"),
    (entry("HALT", entry_price="10.00", stop_loss="9.00", take_profit="12.00"), "not tradable"),
])
def test_rejections_from_the_decision_itself(db, jobs, exchange, body, words):
    d = add_decision(db, body)
    jobs.executor()
    result = outcome(db, d)
    assert result["terminal_state"] == "REJECTED"
    assert result["reason"].startswith("pre-trade check failed: ")
    assert words in result["reason"], result["reason"]
    assert orders_at_broker(exchange) == []
    assert db.query("order_execution") == []


def test_max_notional_per_order(db, jobs, exchange):
    d = add_decision(db, entry())  # 10 x 175 = 1750
    jobs.with_settings(MAX_NOTIONAL_PER_ORDER="1000").executor()
    assert "exceeds MAX_NOTIONAL_PER_ORDER 1000" in outcome(db, d)["reason"]


def test_max_open_positions_counts_this_runs_entries(db, jobs, exchange):
    first = add_decision(db, entry("AAPL"))
    second = add_decision(db, entry("MSFT", entry_price="410.00", stop_loss="400.00",
                                    take_profit="440.00", quantity=1))
    jobs.with_settings(MAX_OPEN_POSITIONS="1").executor()
    assert outcome(db, first)["terminal_state"] == "EXECUTED"
    assert "max open positions reached (1 of 1)" in outcome(db, second)["reason"]


def test_total_exposure_counts_earlier_decisions_of_the_same_run(db, jobs, exchange):
    first = add_decision(db, entry("AAPL"))
    second = add_decision(db, entry("NVDA", entry_price="125.00", stop_loss="120.00",
                                    take_profit="140.00", quantity=10))
    jobs.with_settings(MAX_TOTAL_EXPOSURE="2500").executor()
    assert outcome(db, first)["terminal_state"] == "EXECUTED"
    assert "would exceed MAX_TOTAL_EXPOSURE 2500" in outcome(db, second)["reason"]


def test_buying_power(db, jobs, exchange):
    d = add_decision(db, entry(quantity=1000))  # 175,000 > 100,000
    jobs.with_settings(MAX_NOTIONAL_PER_ORDER="off", MAX_TOTAL_EXPOSURE="off").executor()
    assert "insufficient buying power" in outcome(db, d)["reason"]
    assert orders_at_broker(exchange) == []


def test_duplicate_entry_in_the_same_run_and_against_a_manual_position(db, jobs, broker, exchange):
    broker.submit_order(OrderRequest("by-hand-1", "MSFT", "buy", Decimal(1), "market", "day"))
    first = add_decision(db, entry("AAPL"))
    again = add_decision(db, entry("AAPL"))
    manual = add_decision(db, entry("MSFT", entry_price="410.00", stop_loss="400.00",
                                    take_profit="440.00", quantity=1))
    jobs.executor()
    assert outcome(db, first)["terminal_state"] == "EXECUTED"
    assert "duplicate entry: AAPL" in outcome(db, again)["reason"]
    assert "duplicate entry: MSFT" in outcome(db, manual)["reason"]


def test_same_day_reentry(db, jobs):
    db.insert("trade_journal", {"symbol": "AAPL", "side": "buy", "trade_style": "DAYTRADE",
                                "protection_mode": "bracket", "status": "CLOSED",
                                "exit_date": datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)})
    d = add_decision(db, entry("AAPL"))
    jobs.executor()
    assert "re-entry blocked: AAPL was closed earlier today" in outcome(db, d)["reason"]


def test_daily_loss_limit_uses_persisted_start_of_day_equity(db, jobs):
    db.insert("daily_equity", {"trading_day": datetime(2026, 11, 20).date(),
                               "start_equity": Decimal("105000")})
    d = add_decision(db, entry())
    jobs.executor()
    assert "daily loss limit reached: down 5000.00" in outcome(db, d)["reason"]


def test_start_of_day_equity_is_persisted_once_per_day(db, jobs):
    add_decision(db, entry())
    jobs.executor()
    add_decision(db, entry("MSFT", entry_price="410.00", stop_loss="400.00",
                           take_profit="440.00", quantity=1))
    jobs.executor()
    rows = db.query("daily_equity")
    assert [(r["trading_day"].isoformat(), r["start_equity"]) for r in rows] == [
        ("2026-11-20", Decimal("100000"))]


def test_kill_switch_setting_and_table(db, jobs, exchange):
    d1 = add_decision(db, entry())
    jobs.with_settings(TRADING_HALTED="true").executor()
    assert "trading halted: TRADING_HALTED is set" in outcome(db, d1)["reason"]
    db.insert("system_state", {"key": "kill_switch", "value": "on", "reason": "FOMC"})
    d2 = add_decision(db, entry())
    jobs.executor()
    assert "kill switch is on in system_state (FOMC)" in outcome(db, d2)["reason"]
    assert orders_at_broker(exchange) == []


def test_day_orders_while_closed_only_when_configured(db, jobs, exchange):
    exchange.control.set_clock(datetime(2026, 11, 21, 1, 0, tzinfo=timezone.utc))  # 20:00 ET
    strict = jobs.with_settings(REJECT_DAY_ORDERS_WHEN_CLOSED="true")
    day = add_decision(db, entry(trade_style="DAYTRADE", take_profit=None))
    gtc = add_decision(db, entry("MSFT", entry_price="410.00", stop_loss="400.00",
                                 take_profit="440.00", quantity=1, time_in_force="gtc"))
    strict.executor()
    assert "market is closed" in outcome(db, day)["reason"]
    assert outcome(db, gtc)["terminal_state"] == "EXECUTED"


def test_checks_can_be_switched_off(db, jobs, exchange):
    loose = jobs.with_settings(BLOCK_DUPLICATE_ENTRY="false")
    ids = [add_decision(db, entry("AAPL")) for _ in range(2)]
    loose.executor()
    assert [outcome(db, i)["terminal_state"] for i in ids] == ["EXECUTED", "EXECUTED"]


def test_fat_finger_entry_far_from_the_last_trade(db, jobs, exchange):
    typo = add_decision(db, entry(entry_price="1800.00", stop_loss="1750.00",
                                  take_profit="1900.00", quantity=1))
    fine = add_decision(db, entry("MSFT", entry_price="410.00", stop_loss="400.00",
                                  take_profit="440.00", quantity=1))
    exchange.control.reset_counters()
    jobs.executor()
    assert ("entry 1800.00 is 900.0% away from the last trade 180.0 "
            "(MAX_PRICE_DEVIATION_PCT 10)") in outcome(db, typo)["reason"]
    assert outcome(db, fine)["terminal_state"] == "EXECUTED"
    assert exchange.control.counters()["GET /v2/stocks/snapshots"] == 1
    off = jobs.with_settings(MAX_PRICE_DEVIATION_PCT="off")
    again = add_decision(db, entry(entry_price="150.00", stop_loss="140.00",
                                   take_profit="190.00", quantity=1))
    off.executor()
    assert outcome(db, again)["terminal_state"] == "EXECUTED"
