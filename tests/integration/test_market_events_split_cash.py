"""A reverse split that pays the whole position in cash in lieu (SPLIT-ALL-CASH, issue 21),
through the real jobs on the paper exchange: 1 share of AAPL held through a 1-for-2 reverse
split. The broker holds no position afterwards and pays the half share in cash (a CIL
activity); the bracket's legs, scaled below one share, are cancelled by the broker or left
at the broker as they were (which Alpaca does is UNCONFIRMED: both are played).

The empty positions answer is explained by the split, not taken for a broker fault: the
trade closes with the cash in lieu as its exit (P&L against the split-adjusted entry, the
split named in the exit reason), a leg left at the broker is cancelled on its final word,
and an ALERT says what happened. An empty answer with no split due is still a fault.

The position is entered on Friday 2026-11-20; the split takes effect on Monday 2026-11-23,
which the exchange applies at 04:00 New York; the pre-open run at 09:00 sees it (or, when
the announcement is not listed, a plain position-monitor cycle finds it by its activities).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from tests.helpers import add_decision, entry, exchange_now, outcome
from trading_monitor.position_monitor.corporate_actions import pre_open_once
from trading_monitor.position_monitor.incident import open_incident

D = Decimal
MONDAY_PRE_OPEN = datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc)  # 09:00 New York
MONDAY_OPEN = datetime(2026, 11, 23, 14, 31, tzinfo=timezone.utc)
LIVE = ("new", "held", "accepted", "pending_cancel")
CIL_PRICE = D("362")  # per new share: the half share pays 181


def enter_one_share(db, jobs, exchange):  # type: ignore[no-untyped-def]
    """1 share of AAPL, a SWING bracket filled at 180 with its stop at 170 and target 220."""
    exchange.control.set_prices({"AAPL": "180.00"})
    d = add_decision(db, entry("AAPL", entry_price="180.10", stop_loss="170.00",
                               take_profit="220.00", quantity=1))
    jobs.executor()
    exchange.control.advance(1)
    jobs.order_monitor()
    jid = int(outcome(db, d)["trade_journal_id"])
    assert db.get_by_id("trade_journal", jid)["status"] == "POSITION"
    return jid


def legs(exchange):  # type: ignore[no-untyped-def]
    """Every exit order of AAPL at the exchange: (type, status, qty)."""
    found = set()
    for o in exchange.control.orders():
        for x in [o, *(o.get("legs") or [])]:
            if x["symbol"] == "AAPL" and x["side"] == "sell":
                found.add((x["type"], x["status"], D(x["qty"])))
    return found


def held(exchange):  # type: ignore[no-untyped-def]
    return {p["symbol"]: D(p["qty"]) for p in exchange.control.state()["positions"]}


@pytest.mark.parametrize("seen_by", ["announcement", "activity"])
@pytest.mark.parametrize("under_one_share", ["canceled", "left"])
def test_a_reverse_split_paying_the_whole_position_in_cash_closes_the_trade(
        db, jobs, db_params, broker, settings, exchange, caplog, under_one_share, seen_by):
    jid = enter_one_share(db, jobs, exchange)
    entry_price = db.get_by_id("trade_journal", jid)["actual_entry_price"]
    exchange.control.corporate_action(
        "reverse_split", "AAPL", old_rate=2, new_rate=1, ex_date="2026-11-23",
        cash_in_lieu_price=str(CIL_PRICE), under_one_share=under_one_share,
        listed=seen_by == "announcement")
    exchange.control.set_clock(MONDAY_PRE_OPEN)
    assert held(exchange) == {}
    leg_status = "canceled" if under_one_share == "canceled" else None
    if leg_status is None:  # left at the broker: 1 share each, for shares no longer held
        assert {(t, q) for t, s, q in legs(exchange) if s in LIVE} == {("stop", 1), ("limit", 1)}
    caplog.set_level(logging.WARNING)
    if seen_by == "announcement":
        report = pre_open_once(db_params, broker, settings, now=exchange_now)
    else:
        report = jobs.position_monitor()
    assert not any("reconciliation skipped" in a for a in report.actions), report.actions
    assert report.status == "PASS", report.failing

    j = db.get_by_id("trade_journal", jid)
    assert j["status"] == "CLOSED"
    assert j["exit_reason_code"] == "EXTERNAL"
    # The split named: as announced ("1 for 2"), or as derived from the activities (the
    # new quantity plus the cash in lieu over ours: "0.5 for 1"); the ratio is the same.
    assert j["exit_reason"].startswith("cash in lieu: AAPL: reverse split ")
    assert "paid the whole position" in j["exit_reason"]
    [applied] = db.query("corporate_action_trade", {"trade_journal_id": jid})
    assert (applied["ratio"], applied["qty_before"], applied["qty_after"]) == (
        D("0.5"), D(1), D(0))
    # The half share paid at 362, against the split-adjusted entry (2 x the price paid).
    assert j["actual_entry_price"] == entry_price * 2
    assert j["exit_price"] == CIL_PRICE
    assert j["actual_pnl"] == (CIL_PRICE - entry_price * 2) * D("0.5") - (j["fees"] or 0)
    assert not db.query("position_tracking", {"trade_journal_id": jid})
    [cil] = [f for f in db.query("fills", {"trade_journal_id": jid})
             if f["alpaca_order_id"].startswith("cil:")]
    assert (cil["qty"], cil["price"], cil["side"]) == (D("0.5"), CIL_PRICE, "sell")

    # The broker: no position, no live exit left (cancelled by it, or by us on its word).
    assert held(exchange) == {}
    assert {s for _, s, _ in legs(exchange)} == {"canceled"}
    rows = db.query("order_execution", {"trade_journal_id": jid})
    assert {r["order_status"] for r in rows if r["order_role"] != "ENTRY"} == {"canceled"}
    alerts = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ALERT")
              and getattr(r, "alert_kind", None) == "corporate_action"]
    assert any("paid the whole position" in a and f"trade #{jid}" in a for a in alerts), alerts
    events = [r["message"] for r in db.query("event_log", {"entity": "trade_journal",
                                                            "entity_id": jid})]
    assert any("paid the whole position" in e for e in events), events

    # Nothing more happens: no incident, no re-protection, no order sent, at the open too.
    orders = len(exchange.control.orders())
    for job in (jobs.order_monitor, jobs.position_monitor):
        job()
    exchange.control.set_clock(MONDAY_OPEN)
    jobs.order_monitor()
    assert jobs.position_monitor().status == "PASS"
    assert len(exchange.control.orders()) == orders and held(exchange) == {}
    assert open_incident(db) is None
    assert db.get_by_id("trade_journal", jid)["status"] == "CLOSED"


def test_an_empty_answer_with_no_split_due_is_still_a_broker_fault(
        db, jobs, db_params, broker, settings, exchange):
    """The same share and split, announced for Tuesday: on Monday it explains nothing, so
    positions answering empty while our live stop stands is a fault (nothing booked)."""
    jid = enter_one_share(db, jobs, exchange)
    exchange.control.corporate_action("reverse_split", "AAPL", old_rate=2, new_rate=1,
                                      ex_date="2026-11-24", cash_in_lieu_price="362")
    exchange.control.set_clock(MONDAY_PRE_OPEN)
    exchange.control.set_position_lag(10**8)  # positions answer empty
    assert broker.get_positions() == []
    report = pre_open_once(db_params, broker, settings, now=exchange_now)
    assert any("reconciliation skipped" in a for a in report.actions), report.actions
    assert db.get_by_id("trade_journal", jid)["status"] == "POSITION"
    assert {s for _, s, _ in legs(exchange)} <= set(LIVE)
    assert not db.query("corporate_action_trade", {"trade_journal_id": jid})


def test_cash_in_lieu_not_posted_yet_closes_at_the_mark_then_is_corrected(
        db, jobs, db_params, broker, settings, exchange):
    """The broker pays the half share days later (cash_in_lieu_posted false): the trade
    closes at once, at its last mark split-adjusted (estimated); when the CIL activity
    posts, its exit price and P&L are corrected."""
    jid = enter_one_share(db, jobs, exchange)
    jobs.position_monitor()  # marks the position at 180
    entry_price = db.get_by_id("trade_journal", jid)["actual_entry_price"]
    action = exchange.control.corporate_action(
        "reverse_split", "AAPL", old_rate=2, new_rate=1, ex_date="2026-11-23",
        cash_in_lieu_price=str(CIL_PRICE), cash_in_lieu_posted=False)
    exchange.control.set_clock(MONDAY_PRE_OPEN)
    pre_open_once(db_params, broker, settings, now=exchange_now)
    j = db.get_by_id("trade_journal", jid)
    assert (j["status"], j["exit_estimated"], j["exit_price"]) == ("CLOSED", True, D(360))
    assert "estimated at the last mark" in j["exit_reason"]
    assert j["actual_pnl"] == (D(360) - entry_price * 2) * D("0.5") - (j["fees"] or 0)
    exchange.control.post_cash_in_lieu(action["listing"]["id"])
    exchange.control.set_clock(MONDAY_OPEN)  # 31 minutes on: the CIL activities read again
    jobs.position_monitor()
    j = db.get_by_id("trade_journal", jid)
    assert (j["status"], j["exit_estimated"], j["exit_price"]) == ("CLOSED", False, CIL_PRICE)
    assert j["actual_pnl"] == (CIL_PRICE - entry_price * 2) * D("0.5") - (j["fees"] or 0)
