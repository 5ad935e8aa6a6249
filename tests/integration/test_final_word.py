"""Cancel and amend act only on the broker's final word (executor hardening, point 1).

Each scenario is played by the paper exchange: a cancel left pending, a cancel refused,
an order replaced by hand, a fill while the cancel is pending. Orders are counted at the
exchange, not in our tables.
"""

from __future__ import annotations

from decimal import Decimal

from tests.helpers import add_decision, decision, entry, our_orders, outcome

LIVE = {"new", "accepted", "partially_filled", "pending_cancel", "pending_replace", "held"}


def _live_entries(exchange) -> list[dict]:
    return [o for o in exchange.control.orders()
            if o["order_type"] == "limit" and o["order_class"] in ("bracket", "oto", "simple")
            and o["side"] == "buy" and o["status"] in LIVE]


def _place(db, jobs, **overrides) -> tuple[int, int]:
    d = add_decision(db, entry(**overrides))
    jobs.executor()
    result = outcome(db, d)
    assert result["terminal_state"] == "EXECUTED", result["reason"]
    return d, int(result["trade_journal_id"])


def _amend(db, jid: int, price: str = "176.50") -> int:
    return add_decision(db, entry(primary_action="AMEND", entry_price=price,
                                  existing_trade_journal_id=jid))


def test_amend_waits_out_a_pending_cancel_and_never_has_two_live_entries(db, jobs, exchange):
    _, jid = _place(db, jobs)
    exchange.control.set_cancel_behavior("pending", seconds=30)
    amend = _amend(db, jid)
    report = jobs.executor()
    assert report.count("DEFERRED") == 1 and "pending_cancel" in report.outcomes[0][3]
    assert decision(db, amend)["executed"] is False
    live = _live_entries(exchange)
    assert [o["status"] for o in live] == ["pending_cancel"]  # the old one, still live
    assert db.get_by_id("trade_journal", jid)["status"] == "PENDING"
    new_entry = [r for r in our_orders(db, amend) if r["order_role"] == "ENTRY"][0]
    assert new_entry["order_status"] == "pending_submit"  # written, not sent

    exchange.control.advance(31)  # the broker's final word: canceled
    jobs.executor()
    result = outcome(db, amend)
    assert result["terminal_state"] == "EXECUTED", result["reason"]
    live = _live_entries(exchange)
    assert len(live) == 1 and live[0]["limit_price"] == "176.5"
    assert db.get_by_id("trade_journal", jid)["status"] == "CANCELLED"


def test_refused_cancel_is_not_reported_as_cancelled(db, jobs, exchange):
    d, jid = _place(db, jobs)
    coid = [r for r in our_orders(db, d) if r["order_role"] == "ENTRY"][0]["client_order_id"]
    exchange.control.set_cancel_behavior("refuse", client_order_id=coid)
    cancel = add_decision(db, {"ticker": "AAPL", "primary_action": "CANCEL",
                               "existing_trade_journal_id": jid})
    report = jobs.executor()
    assert report.count("DEFERRED") == 1
    assert "refused the cancel" in report.outcomes[0][3]
    assert db.get_by_id("trade_journal", jid)["status"] == "PENDING"
    assert [o["status"] for o in _live_entries(exchange)] == ["new"]

    exchange.control.set_cancel_behavior("immediate")
    jobs.executor()
    assert outcome(db, cancel)["terminal_state"] == "EXECUTED"
    assert db.get_by_id("trade_journal", jid)["status"] == "CANCELLED"
    assert _live_entries(exchange) == []


def test_refused_cancel_blocks_the_amend_and_the_old_order_stays(db, jobs, exchange):
    d, jid = _place(db, jobs)
    coid = [r for r in our_orders(db, d) if r["order_role"] == "ENTRY"][0]["client_order_id"]
    exchange.control.set_cancel_behavior("refuse", client_order_id=coid)
    _amend(db, jid)
    for _ in range(3):
        jobs.executor()
        assert len(_live_entries(exchange)) == 1  # never the old and the new together
    assert [o["client_order_id"] for o in _live_entries(exchange)] == [coid]


def test_an_order_replaced_at_the_broker_is_followed_to_its_successor(db, jobs, broker, exchange):
    d, jid = _place(db, jobs)
    entry_row = [r for r in our_orders(db, d) if r["order_role"] == "ENTRY"][0]
    successor = broker.replace_order(entry_row["alpaca_order_id"], limit_price=Decimal("174"))
    cancel = add_decision(db, {"ticker": "AAPL", "primary_action": "CANCEL",
                               "existing_trade_journal_id": jid})
    jobs.executor()
    assert outcome(db, cancel)["terminal_state"] == "EXECUTED", outcome(db, cancel)["reason"]
    statuses = {o["id"]: o["status"] for o in exchange.control.orders()}
    assert statuses[successor.id] == "canceled"  # the live one, not only the replaced one
    assert _live_entries(exchange) == []
    assert db.get_by_id("trade_journal", jid)["status"] == "CANCELLED"


def test_amend_of_a_replaced_order_leaves_one_live_entry(db, jobs, broker, exchange):
    d, jid = _place(db, jobs)
    entry_row = [r for r in our_orders(db, d) if r["order_role"] == "ENTRY"][0]
    broker.replace_order(entry_row["alpaca_order_id"], limit_price=Decimal("174"))
    amend = _amend(db, jid)
    jobs.executor()
    assert outcome(db, amend)["terminal_state"] == "EXECUTED", outcome(db, amend)["reason"]
    live = _live_entries(exchange)
    assert [o["limit_price"] for o in live] == ["176.5"]


def test_a_fill_during_a_pending_cancel_wins(db, jobs, broker, exchange):
    _, jid = _place(db, jobs)
    exchange.control.set_cancel_behavior("pending", seconds=30)
    cancel = add_decision(db, {"ticker": "AAPL", "primary_action": "CANCEL",
                               "existing_trade_journal_id": jid})
    jobs.executor()
    assert decision(db, cancel)["executed"] is False
    exchange.control.set_price("AAPL", "174.00")  # trades through the 175 limit
    exchange.control.advance(1)
    jobs.executor()
    result = outcome(db, cancel)
    assert result["terminal_state"] == "REJECTED" and "too late to cancel" in result["reason"]
    journal = db.get_by_id("trade_journal", jid)
    assert (journal["status"], journal["actual_qty"]) == ("POSITION", Decimal(10))
    assert [(p.symbol, p.qty) for p in broker.get_positions()] == [("AAPL", Decimal(10))]
