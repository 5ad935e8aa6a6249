"""R7 (safety review): the stream protects an entry that fills on submission, although its
fill streams before the executor has recorded the entry's broker order id. The race is
widened with the exchange's own faults: the POST's answer is lost, and the executor's
look-up by client order id answers 1.5 s late, so the executor records the broker's id
long after the fill event arrived."""

from __future__ import annotations

import threading

from tests.helpers import add_decision, entry, outcome
from tests.stream_fixtures import wait_within


def _protection(exchange) -> list[dict]:
    return [o for o in exchange.control.orders()
            if o["side"] == "sell" and o["status"] in ("new", "held", "accepted")]


def test_an_entry_filled_on_submission_is_protected_by_the_stream(db, jobs, exchange,
                                                                  listener):
    exchange.control.set_fault("POST /v2/orders", "lost_response", count=1)
    exchange.control.set_fault("GET /v2/orders:by_client_order_id", "latency", ms=1500,
                               count=1)
    # A marketable staged entry (buy limit 181 while AAPL trades at 180): it fills as it
    # is accepted, and its fill streams while the executor still waits for its look-up.
    d = add_decision(db, entry(entry_price="181.00", stop_loss="175.00", take_profit="195.00"))
    jobs.with_settings(PROTECTION_MODE="staged", ORDER_POLLING="false").executor()  # `staged`
    result = outcome(db, d)
    assert result["terminal_state"] == "EXECUTED", result["reason"]
    jid = int(result["trade_journal_id"])
    wait_within(lambda: len(_protection(exchange)) == 2, 10)  # no poll: the stream did it
    assert sorted((o["order_class"], o["qty"]) for o in _protection(exchange)) == [
        ("oco", "10"), ("oco", "10")]
    journal = db.get_by_id("trade_journal", jid)
    assert journal["status"] == "POSITION" and journal["protected_at"] is not None
    fills = db.query("fills", {"trade_journal_id": jid})
    assert [(f["qty"], f["source"]) for f in fills] == [(10, "stream")]


def test_an_entry_whose_fill_the_feed_booked_first_opens_its_trade(db, jobs, exchange):
    """The same race through the poll (the daemon drill of two leaders caught it): the POST's
    answer comes 2 s after the order filled; meanwhile an order-monitor run books the fill
    from the FILL feed, when no row knows that order yet. The executor then records the
    order as `new` (its answer), and the next sync finds it gone from the open list with
    fills that explain it. Before the fix those fills never became the trade's: it stayed
    PENDING and reconciliation took its shares for the trader's."""
    staged = jobs.with_settings(PROTECTION_MODE="staged", ORDER_POLLING="false")
    exchange.control.set_fault("POST /v2/orders", "slow_response", ms=2000, count=1)
    d = add_decision(db, entry(entry_price="181.00", stop_loss="175.00", take_profit="195.00"))
    sending = threading.Thread(target=staged.executor)
    sending.start()
    wait_within(lambda: any(o["status"] == "filled" for o in exchange.control.orders()), 10)
    staged.order_monitor()  # books the fill from the feed: no row knows the order yet
    assert db.query("fills", {"symbol": "AAPL"})[0]["trade_journal_id"] is None
    sending.join(60)
    result = outcome(db, d)
    assert result["terminal_state"] == "EXECUTED", result["reason"]
    jid = int(result["trade_journal_id"])
    staged.order_monitor()
    journal = db.get_by_id("trade_journal", jid)
    assert journal["status"] == "POSITION" and journal["protected_at"] is not None
    assert [(f["qty"], f["trade_journal_id"]) for f in db.query("fills")] == [(10, jid)]
    assert sorted((o["order_class"], o["qty"]) for o in _protection(exchange)) == [
        ("oco", "10"), ("oco", "10")]
