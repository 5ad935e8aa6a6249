"""A day trade that is not flat by the close keeps a GTC stop overnight, never a bare DAY
stop that expires at 16:00 nor a market exit queued for the next open.

The 15:50 exit here rests (it fills 3 of 10 and the rest waits): the rest is withdrawn on
the broker's final word and a GTC stop goes on the 7 shares at once, with an ALERT. After
the close nothing is sent at market; the next session's flatten time closes the trade.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from decimal import Decimal

from tests.helpers import add_decision, entry, outcome

D = Decimal
LIVE = {"new", "accepted", "held", "partially_filled", "pending_cancel"}


def _at(day, hour, minute):
    return datetime(2026, 11, day, hour, minute, tzinfo=timezone.utc)


def _live(exchange):
    return sorted((o["order_type"], o["side"], o["qty"], o["time_in_force"])
                  for o in exchange.control.orders() if o["symbol"] == "AAPL"
                  and o["status"] in LIVE)


def _held(exchange):
    return {p["symbol"]: D(p["qty"]) for p in exchange.control.state()["positions"]}


def test_a_day_trade_not_flat_by_the_close_keeps_a_gtc_stop_until_closed(db, jobs, exchange,
                                                                        caplog):
    jobs = jobs.with_settings()  # bracket mode
    d = add_decision(db, entry(trade_style="DAYTRADE", entry_price="181.00",
                               stop_loss="175.00", take_profit="195.00"))
    jobs.executor()
    jid = int(outcome(db, d)["trade_journal_id"])
    jobs.order_monitor()
    exchange.control.set_clock(_at(20, 20, 50))  # Friday 15:50
    exchange.control.set_partial_fill(symbol="AAPL", ratio="0.3")  # the exit rests
    with caplog.at_level(logging.ERROR):
        report = jobs.order_monitor()
    assert _held(exchange) == {"AAPL": D(7)}, report.actions
    assert _live(exchange) == [("stop", "sell", "7", "gtc")], report.actions
    assert any("ALERT" in r.message and "GTC" in r.message for r in caplog.records)
    exchange.control.set_partial_fill(symbol="AAPL", ratio=None)
    for when in (_at(20, 21, 0), _at(20, 21, 1), _at(20, 23, 0)):  # 16:00, 16:01, 18:00
        exchange.control.set_clock(when)
        report = jobs.order_monitor()
        assert _live(exchange) == [("stop", "sell", "7", "gtc")], (when, report.actions)
    exchange.control.set_clock(_at(23, 15, 0))  # Monday 10:00: still protected, still held
    jobs.order_monitor()
    assert _live(exchange) == [("stop", "sell", "7", "gtc")] and _held(exchange) == {"AAPL": D(7)}
    exchange.control.set_clock(_at(23, 20, 50))  # Monday 15:50: the flatten closes it
    jobs.order_monitor()
    exchange.control.advance(1)
    jobs.order_monitor()
    assert _held(exchange) == {} and _live(exchange) == []
    journal = db.get_by_id("trade_journal", jid)
    assert (journal["status"], journal["exit_reason_code"]) == ("CLOSED", "EOD_FLATTEN")


def _day_trade(db, jobs, take_profit=None) -> int:
    d = add_decision(db, entry(trade_style="DAYTRADE", entry_price="181.00",
                               stop_loss="175.00", take_profit=take_profit))
    jobs.executor()
    assert outcome(db, d)["terminal_state"] == "EXECUTED", outcome(db, d)["reason"]
    return int(outcome(db, d)["trade_journal_id"])


def _stops(exchange):
    return sorted((o["qty"], o["time_in_force"]) for o in exchange.control.orders()
                  if o["symbol"] == "AAPL" and o["order_type"] == "stop"
                  and o["status"] in LIVE)


def test_a_staged_day_trade_is_protected_gtc_from_its_first_stop(db, jobs, exchange):
    jobs = jobs.with_settings(PROTECTION_MODE="staged")
    _day_trade(db, jobs)
    jobs.order_monitor()
    assert _stops(exchange) == [("10", "gtc")]  # a stop never expires before its position


def test_without_the_flatten_a_day_trade_gets_a_gtc_stop_before_the_close(
        db, jobs, exchange, caplog):
    jobs = jobs.with_settings(EOD_FLATTEN="false")
    jid = _day_trade(db, jobs, take_profit="195.00")  # a DAY bracket
    jobs.order_monitor()
    assert [o["time_in_force"] for o in exchange.control.orders()] == ["day"] * 3
    exchange.control.set_clock(_at(20, 20, 50))  # Friday 15:50: nothing is sold
    with caplog.at_level(logging.ERROR):
        report = jobs.order_monitor()
    assert _stops(exchange) == [("10", "gtc")], report.actions
    assert not [o for o in exchange.control.orders() if o["order_type"] == "market"]
    assert any("ALERT" in r.message and "open overnight" in r.message for r in caplog.records)
    exchange.control.set_clock(_at(20, 21, 1))  # 16:01: the DAY legs are gone, it is not
    jobs.order_monitor()
    assert _stops(exchange) == [("10", "gtc")] and _held(exchange) == {"AAPL": D(10)}
    assert db.get_by_id("trade_journal", jid)["status"] == "POSITION"
