"""R1 (safety review): an entry whose filled quantity is read before its executions reach the
FILL feed is booked once. Booked fills of an order add up to the broker's filled_qty; the
stand-in booked from the order gives way to the real executions; the books never hold more
shares than the broker."""

from __future__ import annotations

from decimal import Decimal

from tests.helpers import add_decision, entry, exchange_now, outcome
from trading_monitor.invariants.run import run_check

D = Decimal


def _entry_filled_in_two_executions(db, jobs, exchange) -> int:
    """A resting buy limit of 10 that fills 4, then 6, with no order-monitor cycle between."""
    d = add_decision(db, entry())  # buy 10 limit 175, stop 170, target 190; AAPL at 180
    jobs.executor()
    jid = int(outcome(db, d)["trade_journal_id"])
    exchange.control.set_partial_fill(symbol="AAPL", ratio="0.4")
    exchange.control.set_price("AAPL", "174.00")  # 4 fill
    exchange.control.set_partial_fill(symbol="AAPL", ratio=None)
    exchange.control.advance(5)  # the other 6 fill
    [order] = [o for o in exchange.control.orders() if o["side"] == "buy"]
    assert (order["status"], order["filled_qty"]) == ("filled", "10"), order
    return jid


def _entry_fills(db, jid) -> list:
    [row] = [r for r in db.query("order_execution", {"trade_journal_id": jid})
             if r["order_role"] == "ENTRY"]
    return db.query("fills", {"alpaca_order_id": row["alpaca_order_id"]})


def test_an_entry_read_before_its_executions_is_booked_once(
        db, jobs, db_params, broker, settings, exchange):
    jid = _entry_filled_in_two_executions(db, jobs, exchange)
    # A CANCEL for the entry that has just filled reads the order (filled 10) before any
    # order-monitor cycle has read the FILL feed: a stand-in of 10 is booked from the order.
    cancel = add_decision(db, {"ticker": "AAPL", "primary_action": "CANCEL",
                               "existing_trade_journal_id": jid})
    jobs.executor()
    assert outcome(db, cancel)["terminal_state"] is not None
    assert sum(f["qty"] for f in _entry_fills(db, jid)) == D(10)
    stops_before = {o["id"] for o in exchange.control.orders() if o["side"] == "sell"}

    jobs.order_monitor()  # the feed brings the executions: 4, then 6
    fills = _entry_fills(db, jid)
    assert sorted(f["qty"] for f in fills) == [D(4), D(6)], fills
    assert {f["source"] for f in fills} == {"activity"}
    journal = db.get_by_id("trade_journal", jid)
    [position] = db.query("position_tracking", {"trade_journal_id": jid})
    held = {p.symbol: p.qty for p in broker.get_positions()}
    assert journal["actual_qty"] == position["qty"] == held["AAPL"] == D(10)
    # The bracket's legs still protect: nothing was cancelled or re-placed for 14 shares.
    sells = [o for o in exchange.control.orders() if o["side"] == "sell"]
    assert {o["id"] for o in sells} == stops_before
    assert all(o["qty"] == "10" and o["status"] in ("new", "held") for o in sells), sells
    overbooked = [f for f in run_check(db_params, broker, settings, now=exchange_now).findings
                  if f.invariant == "books_agree" and "fills of" in f.message]
    assert overbooked == []

    exchange.control.set_price("AAPL", "169.00")  # the stop fills for the 10
    exchange.control.advance(1)
    jobs.order_monitor()
    journal = db.get_by_id("trade_journal", jid)
    assert (journal["status"], journal["exit_reason_code"]) == ("CLOSED", "STOPPED_OUT")
    by_side = {o["side"]: o for o in exchange.control.orders()
               if o["status"] == "filled" and o["order_type"] in ("limit", "stop")}
    real = (D(by_side["sell"]["filled_avg_price"]) - D(by_side["buy"]["filled_avg_price"])) * 10
    assert journal["actual_pnl"] == real


def test_a_stand_in_never_adds_to_real_executions(db, jobs, exchange):
    jid = _entry_filled_in_two_executions(db, jobs, exchange)
    jobs.order_monitor()  # the feed first: both executions
    cancel = add_decision(db, {"ticker": "AAPL", "primary_action": "CANCEL",
                               "existing_trade_journal_id": jid})
    jobs.executor()  # then the order read: nothing beyond them
    jobs.order_monitor()
    assert outcome(db, cancel)["terminal_state"] is not None
    fills = _entry_fills(db, jid)
    assert sorted(f["qty"] for f in fills) == [D(4), D(6)]
    assert db.get_by_id("trade_journal", jid)["actual_qty"] == D(10)
