"""Splits and symbol changes on a held SWING position with a trailed stop, through the real
jobs on the paper exchange (issue 21): the books are restated, the protection re-priced at
the broker before the open, and the exit's P&L is right.

The position is entered on Friday 2026-11-20; the split takes effect on Monday 2026-11-23,
which the exchange applies at 04:00 New York. The pre-open run at 09:00 sees it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from tests.helpers import add_decision, entry, exchange_now, outcome
from tests.support.jobs import Jobs
from trading_monitor.engine.announcements import READ_ON
from trading_monitor.position_monitor.corporate_actions import pre_open_once

D = Decimal
MONDAY_PRE_OPEN = datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc)  # 09:00 New York
MONDAY_OPEN = datetime(2026, 11, 23, 14, 31, tzinfo=timezone.utc)
LIVE = ("new", "held", "accepted")


def pre_open(db_params, broker, settings):  # type: ignore[no-untyped-def]
    return pre_open_once(db_params, broker, settings, now=exchange_now)


def first_look(seen_by, db, jobs: Jobs):  # type: ignore[no-untyped-def]
    """The pre-open run reads the announcement; or it read the day's announcements before
    Alpaca listed this one (or Alpaca never lists it: the exchange's `listed=False`), and a
    plain position-monitor cycle meets the new quantity first: the SPLIT activity leads it
    to the action. Either way reconciliation passes and entries are not halted."""
    if seen_by == "announcement":
        report = pre_open(jobs.db_params, jobs.broker, jobs.settings)
    elif seen_by == "first cycle":  # no pre-open run today: the cycle reads them itself
        report = jobs.position_monitor()
        assert any("corporate action announced" in a for a in report.actions), report.actions
    else:
        db.named_update("set_system_value", {"key": READ_ON, "value": "2026-11-23",
                                             "reason": "read before Alpaca listed it"})
        report = jobs.position_monitor()
        assert any("found after the fact" in a for a in report.actions), report.actions
    assert report.status == "PASS", report.failing
    halts = db.named("system_value", {"key": "halt_reconciliation"})
    assert not halts or halts[0]["value"] != "on"
    return report


SEEN_BY = ("announcement", "activity")


def live_exits(exchange, symbol):  # type: ignore[no-untyped-def]
    found = {}
    for o in exchange.control.orders():
        for x in [o, *(o.get("legs") or [])]:
            if x["symbol"] == symbol and x["side"] == "sell" and x["status"] in LIVE:
                found[x["type"]] = (D(x["qty"]), D(x.get("stop_price") or x["limit_price"]))
    return found


def held(exchange):  # type: ignore[no-untyped-def]
    return {p["symbol"]: D(p["qty"]) for p in exchange.control.state()["positions"]}


def enter_and_trail(db, db_params, broker, settings, exchange, symbol, price, qty, stop, take,
                    high):  # type: ignore[no-untyped-def]
    """A SWING bracket filled at `price`, then the market at `high` (+8% or more): the
    staircase moves the stop to break-even (the entry)."""
    exchange.control.set_prices({symbol: price})
    d = add_decision(db, entry(symbol, entry_price=str(D(price) + D("0.10")), stop_loss=stop,
                               take_profit=take, quantity=qty))
    jobs = Jobs(db_params, broker, settings, exchange)
    jobs.executor()
    exchange.control.advance(1)
    jobs.order_monitor()
    exchange.control.set_prices({symbol: high})
    jobs.position_monitor()
    jid = int(outcome(db, d)["trade_journal_id"])
    assert db.get_by_id("trade_journal", jid)["planned_stop_loss"] == D(price)
    return jid


def books(db, jid):  # type: ignore[no-untyped-def]
    j = db.get_by_id("trade_journal", jid)
    (p,) = db.query("position_tracking", {"trade_journal_id": jid})
    return {"symbol": j["symbol"], "status": j["status"], "qty": p["qty"],
            "avg": p["avg_entry_price"], "entry": j["actual_entry_price"],
            "stop": j["planned_stop_loss"], "take": j["planned_take_profit"],
            "hwm": p["high_water_mark"], "step": p["trail_step"]}


def split_events(db, jid):  # type: ignore[no-untyped-def]
    return [r for r in db.query("event_log", {"entity": "trade_journal", "entity_id": jid})
            if r["event"] == "corporate_action" and "applied" in r["message"]]


@pytest.mark.parametrize("seen_by", (*SEEN_BY, "first cycle"))
@pytest.mark.parametrize("legs_follow", [True, False])
def test_a_2_for_1_split(db, db_params, broker, settings, jobs, exchange, legs_follow, seen_by):
    jid = enter_and_trail(db, db_params, broker, settings, exchange, "AAPL", "180.00", 10,
                          "170.00", "220.00", "195.00")
    assert live_exits(exchange, "AAPL") == {"stop": (D(10), D(180)), "limit": (D(10), D(220))}
    exchange.control.corporate_action("forward_split", "AAPL", old_rate=1, new_rate=2,
                                      ex_date="2026-11-23", bracket_qty_follows=legs_follow,
                                      listed=seen_by != "activity")
    exchange.control.set_clock(MONDAY_PRE_OPEN)
    # Alpaca applied it: 20 shares, the legs at their pre-split prices (DNR/DNC).
    assert held(exchange) == {"AAPL": D(20)}
    leg_qty = D(20) if legs_follow else D(10)
    assert live_exits(exchange, "AAPL")["stop"] == (leg_qty, D(180))
    first_look(seen_by, db, jobs)
    assert books(db, jid) == {"symbol": "AAPL", "status": "POSITION", "qty": D(20),
                              "avg": D(90), "entry": D(90), "stop": D("90.00"),
                              "take": D("110.00"), "hwm": D("97.5"), "step": 1}
    assert live_exits(exchange, "AAPL") == {"stop": (D(20), D(90)), "limit": (D(20), D(110))}
    (event,) = split_events(db, jid)
    assert event["detail"]["ratio"] == "2" and event["detail"]["before"]["actual_qty"] == "10"
    # Idempotent per action id: the next runs change nothing.
    pre_open(db_params, broker, settings)
    jobs.position_monitor()
    assert len(split_events(db, jid)) == 1 and books(db, jid)["qty"] == D(20)
    # The open: the market falls through the split-adjusted stop.
    exchange.control.set_clock(MONDAY_OPEN)
    exchange.control.set_prices({"AAPL": "89.00"})
    jobs.order_monitor()
    j = db.get_by_id("trade_journal", jid)
    assert (j["status"], j["exit_reason_code"]) == ("CLOSED", "STOPPED_OUT")
    assert j["actual_pnl"] == (D("89.00") - D(90)) * 20 - (j["fees"] or 0)
    assert held(exchange) == {}


@pytest.mark.parametrize("seen_by", SEEN_BY)
@pytest.mark.parametrize("legs_follow", [True, False])
def test_a_1_for_10_reverse_split_with_cash_in_lieu_and_a_new_symbol(
        db, db_params, broker, settings, jobs, exchange, legs_follow, seen_by):
    jid = enter_and_trail(db, db_params, broker, settings, exchange, "AMD", "15.00", 105,
                          "13.50", "20.00", "16.50")
    exchange.control.corporate_action(
        "reverse_split", "AMD", old_rate=10, new_rate=1, new_symbol="AMDR",
        ex_date="2026-11-23", cash_in_lieu_price="160", bracket_qty_follows=legs_follow)
    exchange.control.set_clock(MONDAY_PRE_OPEN)
    assert held(exchange) == {"AMDR": D(10)}  # 10.5 shares: the half paid in cash
    leg_qty = D(10) if legs_follow else D(105)
    assert live_exits(exchange, "AMDR")["stop"] == (leg_qty, D(15))
    first_look(seen_by, db, jobs)
    assert books(db, jid) == {"symbol": "AMDR", "status": "POSITION", "qty": D(10),
                              "avg": D(150), "entry": D(150), "stop": D("150.00"),
                              "take": D("200.00"), "hwm": D(165), "step": 1}
    # Never more shares than held: legs left at 105 would sell 95 short.
    assert live_exits(exchange, "AMDR") == {"stop": (D(10), D(150)), "limit": (D(10), D(200))}
    [cil] = [f for f in db.query("fills", {"trade_journal_id": jid})
             if f["alpaca_order_id"].startswith("cil:")]
    assert (cil["qty"], cil["price"], cil["symbol"]) == (D("0.5"), D(160), "AMDR")
    assert not db.query("trade_journal", {"symbol": "AMD"})  # the same trade, not re-adopted
    exchange.control.set_clock(MONDAY_OPEN)
    exchange.control.set_prices({"AMDR": "149.00"})
    jobs.order_monitor()
    j = db.get_by_id("trade_journal", jid)
    assert (j["status"], j["exit_reason_code"]) == ("CLOSED", "STOPPED_OUT")
    # 10 shares stopped out at 149, the half share paid at 160, against 150 a share.
    assert j["actual_pnl"] == (D(149) - 150) * 10 + (D(160) - 150) * D("0.5") - (j["fees"] or 0)
    assert held(exchange) == {}


def test_an_entry_still_working_on_the_split_day_is_withdrawn_before_the_open(
        db, db_params, broker, settings, jobs, exchange):
    d = add_decision(db, entry("AAPL", entry_price="175.00", stop_loss="170.00",
                               take_profit="190.00", time_in_force="GTC"))  # rests at 180
    jobs.executor()
    exchange.control.corporate_action("forward_split", "AAPL", old_rate=1, new_rate=2,
                                      ex_date="2026-11-23")
    exchange.control.set_clock(MONDAY_PRE_OPEN)
    report = pre_open(db_params, broker, settings)
    assert any("withdrawn (a corporate action today): canceled" in a for a in report.actions)
    jobs.order_monitor()
    jid = int(outcome(db, d)["trade_journal_id"])
    assert db.get_by_id("trade_journal", jid)["status"] == "CANCELLED"
    exchange.control.set_clock(MONDAY_OPEN)
    assert held(exchange) == {}  # the pre-split limit at 175 never bought at 90


def test_a_split_not_applied_at_the_broker_yet_changes_nothing_until_it_is(
        db, db_params, broker, settings, jobs, exchange):
    jid = enter_and_trail(db, db_params, broker, settings, exchange, "AAPL", "180.00", 10,
                          "170.00", "220.00", "195.00")
    exchange.control.corporate_action("forward_split", "AAPL", old_rate=1, new_rate=2,
                                      ex_date="2026-11-23")
    # 03:30 New York on the ex-date: announced, but the broker still holds 10 (it applies
    # the split at 04:00).
    exchange.control.set_clock(datetime(2026, 11, 23, 8, 30, tzinfo=timezone.utc))
    pre_open(db_params, broker, settings)
    assert held(exchange) == {"AAPL": D(10)}
    assert books(db, jid)["qty"] == D(10) and books(db, jid)["stop"] == D("180.00")
    assert split_events(db, jid) == []
    exchange.control.set_clock(MONDAY_PRE_OPEN)  # applied at the broker meanwhile
    jobs.position_monitor()
    assert books(db, jid)["qty"] == D(20) and books(db, jid)["stop"] == D("90.00")
    assert live_exits(exchange, "AAPL")["stop"] == (D(20), D(90))


def test_a_plain_stop_the_broker_adjusted_and_reissued_as_replaced_is_followed(
        db, db_params, jobs, exchange):
    jobs = jobs.with_settings(PROTECTION_MODE="staged")
    broker, settings = jobs.broker, jobs.settings
    d = add_decision(db, entry("AAPL", entry_price="181.00", stop_loss="175.00",
                               take_profit=None, trade_style="DAYTRADE"))
    jobs.executor()
    exchange.control.advance(1)
    jobs.order_monitor()  # 10 AAPL, a plain GTC stop at 175
    jid = int(outcome(db, d)["trade_journal_id"])
    (first,) = [o for o in exchange.control.orders() if o["type"] == "stop"]
    exchange.control.corporate_action("forward_split", "AAPL", old_rate=1, new_rate=2,
                                      ex_date="2026-11-23", replace_adjusted=True)
    exchange.control.set_clock(MONDAY_PRE_OPEN)
    report = pre_open(db_params, broker, settings)
    assert not [a for a in report.actions if "re-priced" in a], report.actions  # no PATCH
    (stop,) = [o for o in exchange.control.orders() if o["type"] == "stop"
               and o["status"] == "new"]
    assert stop["replaces"] == first["id"] and (stop["qty"], stop["stop_price"]) == ("20", "87.5")
    rows = [r for r in db.query("order_execution", {"trade_journal_id": jid})
            if r["order_role"] == "STOP_LOSS" and r["order_status"] == "new"]
    assert [(r["alpaca_order_id"], r["qty"], r["stop_price"]) for r in rows] == [
        (stop["id"], D(20), D("87.5"))]
    assert db.get_by_id("trade_journal", jid)["planned_stop_loss"] == D("87.50")
    assert db.query("corporate_action_trade", {"trade_journal_id": jid})[0]["repriced_at"]


def test_a_unit_split_into_a_new_symbol(db, db_params, broker, settings, jobs, exchange):
    jid = enter_and_trail(db, db_params, broker, settings, exchange, "AMD", "15.00", 105,
                          "13.50", "20.00", "16.50")
    exchange.control.corporate_action("unit_split", "AMD", new_symbol="AMDU", old_rate=1,
                                      new_rate=2, ex_date="2026-11-23")
    exchange.control.set_clock(MONDAY_PRE_OPEN)
    assert held(exchange) == {"AMDU": D(210)}
    first_look("announcement", db, jobs)
    assert books(db, jid) == {"symbol": "AMDU", "status": "POSITION", "qty": D(210),
                              "avg": D("7.5"), "entry": D("7.5"), "stop": D("7.50"),
                              "take": D("10.00"), "hwm": D("8.25"), "step": 1}
    assert live_exits(exchange, "AMDU") == {"stop": (D(210), D("7.5")),
                                            "limit": (D(210), D(10))}


def test_a_stop_the_broker_cancels_on_the_split_day_is_not_taken_for_a_hand(
        db, db_params, broker, settings, jobs, exchange):
    """A stop cancelled at the broker around a split (Alpaca cancels a leg it cannot carry
    through one) is not the trader taking protection away: no hand-cancel ALERT and no
    HAND_CANCEL_GRACE_SECONDS wait; the order monitor protects the shares again at once."""
    jid = enter_and_trail(db, db_params, broker, settings, exchange, "AAPL", "180.00", 10,
                          "170.00", "220.00", "195.00")
    exchange.control.corporate_action("forward_split", "AAPL", old_rate=1, new_rate=2,
                                      ex_date="2026-11-23")
    exchange.control.set_clock(MONDAY_PRE_OPEN)
    pre_open(db_params, broker, settings)
    [stop] = [o for o in exchange.control.orders() for o in [o, *(o.get("legs") or [])]
              if o["symbol"] == "AAPL" and o["type"] == "stop" and o["status"] in LIVE]
    exchange.control.set_cancel_behavior("immediate", client_order_id=stop["client_order_id"])
    broker.cancel_order(stop["id"])  # the broker's own cancel, as far as our books can tell

    jobs.order_monitor()
    events = {r["event"] for r in db.query("event_log", {"entity_id": jid})}
    assert "stop_cancelled_by_broker" in events and "stop_cancelled_by_hand" not in events
    assert live_exits(exchange, "AAPL")["stop"] == (D(20), D(90))
