"""R3 and R4: closes by hand are booked from the trader's own fills, and only those that
reduced our position.

R3: after a partial close by hand the books kept the old quantity, so every order-monitor
cycle cancelled the stop and placed it again, and QTY_MISMATCH halted entries for good.
R4: a close by hand was priced with every sell of the trader's since our entry, his own
earlier round trip included.
"""

from __future__ import annotations

from decimal import Decimal

from tests.support.jobs import Jobs
from trading_monitor.broker.models import OrderRequest

D = Decimal
LIVE = {"new", "accepted", "held", "partially_filled", "pending_cancel"}


def _staged(jobs: Jobs) -> Jobs:
    # The stop is put back at once after the trader's cancel (HAND_CANCEL_GRACE_SECONDS=0):
    # what is tried here is the resize, not the grace (tests/integration/test_hand_close.py).
    return jobs.with_settings(PROTECTION_MODE="staged", RECONCILE_GRACE_SECONDS="60",
                              HAND_CANCEL_GRACE_SECONDS="0")


def _by_hand(broker, exchange, side, qty, price, name):
    exchange.control.set_price("AAPL", price)
    broker.submit_order(OrderRequest(client_order_id=name, symbol="AAPL", side=side,
                                     qty=D(qty), order_type="market", time_in_force="day"))
    exchange.control.advance(1)


def _protection_sent(exchange):
    return sorted(o["client_order_id"].rsplit("-d1-", 1)[-1] for o in exchange.control.orders()
                  if o["client_order_id"].startswith("tm-") and "-d1-" in o["client_order_id"]
                  and ("stop_loss" in o["client_order_id"]
                       or "take_profit" in o["client_order_id"]))


def test_a_partial_close_by_hand_is_booked_once_and_the_stop_stops_churning(
        db, jobs, broker, exchange):
    jobs = _staged(jobs)
    jid = jobs.position(db)
    for o in exchange.control.orders():  # the trader cancels our OCO, then sells 4
        if o["status"] in LIVE and o["side"] == "sell" and o["order_class"] == "oco" \
                and o.get("parent_id") is None:
            broker.cancel_order(o["id"])
    _by_hand(broker, exchange, "sell", 4, "182.00", "by-hand-sell-4")
    jobs.order_monitor()  # protects what is held
    before = _protection_sent(exchange)
    assert before == ["take_profit", "take_profit-2"]  # the first OCO, and one for the 6
    jobs.order_monitor()  # the books still say 10: the 4 are not there
    assert _protection_sent(exchange) == before  # the 6 stay covered, nothing cancelled
    report = jobs.position_monitor()  # books the partial close from its fill
    for _ in range(3):
        exchange.control.advance(300)
        jobs.order_monitor()
    assert _protection_sent(exchange) == before, report.actions  # resized once: no churn
    [position] = db.query("position_tracking", {"trade_journal_id": jid})
    assert position["qty"] == D(6), report.actions
    live = [(o["order_type"], o["qty"]) for o in exchange.control.orders()
            if o["status"] in LIVE and o["symbol"] == "AAPL"]
    assert sorted(live) == [("limit", "6"), ("stop", "6")], live
    exchange.control.advance(120)
    report = jobs.position_monitor()
    assert report.status == "PASS", report.failing
    halts = db.named("system_value", {"key": "halt_reconciliation"})
    assert [r["value"] for r in halts if r["value"] == "on"] == []  # entries not halted
    exchange.control.set_price("AAPL", "174.00")  # the stop closes the rest
    exchange.control.advance(1)
    jobs.order_monitor()
    journal = db.get_by_id("trade_journal", jid)
    assert journal["status"] == "CLOSED", journal
    fills = db.query("fills", {"trade_journal_id": jid})
    exits = sum((f["qty"] for f in fills if f["side"] == "sell"), D(0))
    assert exits == D(10)
    entry_price = journal["actual_entry_price"]
    expected = sum(((f["price"] - entry_price) * f["qty"] for f in fills if f["side"] == "sell"),
                   D(0))
    assert journal["actual_pnl"] == expected


def test_a_close_by_hand_is_priced_with_the_fills_that_closed_our_shares(
        db, jobs, broker, exchange):
    jobs = _staged(jobs)
    jid = jobs.position(db)  # long 10 @ 180
    for o in exchange.control.orders():  # the trader cancels our OCO to trade by hand
        if o["status"] in LIVE and o["order_class"] == "oco" and o.get("parent_id") is None:
            broker.cancel_order(o["id"])
    _by_hand(broker, exchange, "buy", 5, "180.00", "by-hand-buy-5")  # his own round trip
    _by_hand(broker, exchange, "sell", 5, "190.00", "by-hand-sell-5")
    _by_hand(broker, exchange, "sell", 10, "176.00", "by-hand-sell-10")  # closes ours
    jobs.position_monitor()
    exchange.control.advance(61)
    report = jobs.position_monitor()
    journal = db.get_by_id("trade_journal", jid)
    assert (journal["status"], journal["exit_reason_code"]) == ("CLOSED", "MANUAL"), (
        report.actions)
    assert journal["exit_price"] == D("176.00")
    assert journal["actual_pnl"] == (D("176.00") - journal["actual_entry_price"]) * 10
    sells = [f["qty"] for f in db.query("fills", {"trade_journal_id": jid})
             if f["side"] == "sell"]
    assert sells == [D(10)]  # only the fill that closed our shares is ours
