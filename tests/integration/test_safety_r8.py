"""R8 (safety review): a staged DAYTRADE whose entry is partly filled is protected within one
cycle. Alpaca's wash-trade rule (the exchange's, on by default) refuses a plain sell stop,
and a market exit, while our own buy limit works: the entry's unfilled rest is withdrawn
first, on the broker's final word, and then the stop goes out. A 403 "potential wash trade"
that still comes (an order of the trader's we cannot see) is never answered with a market
exit, which Alpaca would refuse the same way."""

from __future__ import annotations

from decimal import Decimal

from tests.helpers import add_decision, entry, outcome
from tests.support.jobs import Jobs
from trading_monitor.broker.models import OrderRequest
from trading_monitor.domain.order_status import OrderStatus

D = Decimal


def _staged(jobs: Jobs) -> Jobs:
    return jobs.with_settings(PROTECTION_MODE="staged")


def _daytrade(db, jobs) -> int:
    d = add_decision(db, entry(trade_style="DAYTRADE", take_profit=None, entry_price="181.00",
                               stop_loss="175.00"))  # marketable: buy limit 181, AAPL at 180
    jobs.executor()
    result = outcome(db, d)
    assert result["terminal_state"] == "EXECUTED", result["reason"]
    return int(result["trade_journal_id"])


def _ours(db, jid) -> list[tuple[str, str, str]]:
    return [(r["order_role"], r["order_type"], r["order_status"]) for r in
            db.query("order_execution", {"trade_journal_id": jid})]


def test_a_partly_filled_staged_entry_is_protected_within_one_cycle(db, jobs, broker,
                                                                    exchange):
    assert exchange.control.rules()["wash_trade"] is True
    jobs = _staged(jobs)
    exchange.control.set_partial_fill(symbol="AAPL", ratio="0.3")
    jid = _daytrade(db, jobs)
    [working] = [o for o in exchange.control.orders() if o["side"] == "buy"]
    assert (working["status"], working["filled_qty"]) == ("partially_filled", "3")

    jobs.order_monitor()  # one cycle
    book = {o["client_order_id"]: o for o in exchange.control.orders()}
    entry_order = book[working["client_order_id"]]
    assert (entry_order["status"], entry_order["filled_qty"]) == ("canceled", "3")
    [stop] = [o for o in book.values() if o["side"] == "sell"]
    assert (stop["order_type"], stop["qty"], stop["status"]) == ("stop", "3", "new")
    assert not any(o["status"] == "rejected" for o in book.values())
    journal = db.get_by_id("trade_journal", jid)
    assert journal["status"] == "POSITION" and journal["protected_at"] is not None
    assert journal["emergency_action"] is None
    assert [p.qty for p in broker.get_positions() if p.symbol == "AAPL"] == [D(3)]
    assert ("STOP_LOSS", "stop", "new") in _ours(db, jid)
    assert not [o for o in _ours(db, jid) if o[0] == "EXIT" or o[2] == "rejected"]


def test_a_wash_trade_refusal_is_not_answered_with_a_market_exit(db, jobs, broker,
                                                                 exchange):
    jobs = _staged(jobs)
    jid = _daytrade(db, jobs)  # filled: 10 shares
    # The trader's own buy limit in the same symbol, which our books do not know.
    mine = broker.submit_order(OrderRequest(client_order_id="trader-1", symbol="AAPL",
                                            side="buy", qty=D(1), order_type="limit",
                                            time_in_force="day", limit_price=D("170")))
    jobs.order_monitor()
    journal = db.get_by_id("trade_journal", jid)
    assert journal["status"] == "POSITION" and journal["protected_at"] is None
    assert "wash trade" in journal["emergency_action"]
    assert not [o for o in exchange.control.orders() if o["order_type"] == "market"]
    assert not [o for o in _ours(db, jid) if o[0] == "EXIT"]

    broker.cancel_order(mine.id)  # the trader withdraws it: the next cycle protects
    jobs.order_monitor()
    assert db.get_by_id("trade_journal", jid)["protected_at"] is not None
    live = [o for o in exchange.control.orders() if o["side"] == "sell" and o["status"] == "new"]
    assert [(o["order_type"], o["qty"]) for o in live] == [("stop", "10")]


def test_the_staged_fallback_after_a_refused_bracket_is_protected_within_one_cycle(
        db, jobs, exchange):
    # Bracket mode; the broker refuses the bracket, so the entry goes out plain (staged).
    exchange.control.set_fault("POST /v2/orders", "http_status", status=422, count=1,
                               message="bracket orders are not supported for this asset")
    exchange.control.set_partial_fill(symbol="AAPL", ratio="0.3")
    jid = _daytrade(db, jobs)
    journal = db.get_by_id("trade_journal", jid)
    assert journal["protection_mode"] == "staged"
    jobs.order_monitor()
    live = [o for o in exchange.control.orders() if o["status"] in ("new", "partially_filled")]
    assert [(o["side"], o["order_type"], o["qty"]) for o in live] == [("sell", "stop", "3")]
    assert db.get_by_id("trade_journal", jid)["protected_at"] is not None
    assert not [o for o in _ours(db, jid) if o[0] == "EXIT"]


# -- the entry's rest that is not withdrawn at once (found by the lifecycle model) ----------

def _partly_filled(db, jobs, exchange) -> tuple[int, dict]:
    exchange.control.set_partial_fill(symbol="AAPL", ratio="0.3")
    jid = _daytrade(db, jobs)
    [working] = [o for o in exchange.control.orders() if o["side"] == "buy"]
    assert (working["status"], working["filled_qty"]) == ("partially_filled", "3")
    return jid, working


def _sells(exchange) -> list[tuple[str, str, str, str, str | None, str | None]]:
    return sorted((o["order_class"], o["order_type"], o["qty"], o["status"], o["stop_price"],
                   o["limit_price"]) for o in exchange.control.orders() if o["side"] == "sell")


def _on_the_exchanges_clock(exchange):
    return lambda seconds: exchange.control.advance(seconds)  # a job's wait passes there


def test_a_rest_whose_cancel_stays_pending_is_bridged_by_an_oco_in_the_same_cycle(
        db, jobs, exchange):
    jobs = _staged(jobs)
    jid, working = _partly_filled(db, jobs, exchange)
    exchange.control.set_prices({"AAPL": "185"})  # the rest rests (buy limit 181)
    exchange.control.set_cancel_behavior("pending", seconds=600,
                                         client_order_id=working["client_order_id"])
    jobs.order_monitor(sleep=_on_the_exchanges_clock(exchange))
    book = {o["client_order_id"]: o for o in exchange.control.orders()}
    assert book[working["client_order_id"]]["status"] == "pending_cancel"
    # Alpaca's wash-trade rule exempts an OCO: the planned stop, and a target 3 R above the
    # average entry (180, risk 5) for a day trade without one.
    [target, stop] = _sells(exchange)
    assert target == ("oco", "limit", "3", "new", None, "195")
    assert stop[:3] + stop[4:] == ("oco", "stop", "3", "175", None)
    assert OrderStatus(stop[3]).protects
    journal = db.get_by_id("trade_journal", jid)
    assert journal["protected_at"] is not None and journal["emergency_action"] is None
    assert not [o for o in exchange.control.orders() if o["status"] == "rejected"]

    exchange.control.advance(600)  # the cancel goes through: nothing more to do
    jobs.order_monitor()
    assert working["client_order_id"] in {
        o["client_order_id"] for o in exchange.control.orders() if o["status"] == "canceled"}
    assert _sells(exchange) == [target, stop]  # the OCO stays: it protects all 3
    assert [(r["order_role"], r["order_class"], r["qty"]) for r in
            db.query("order_execution", {"trade_journal_id": jid}) if r["order_role"] != "ENTRY"
            ] == [("TAKE_PROFIT", "oco", D(3)), ("STOP_LOSS", "oco", D(3))]


def test_a_rest_that_fills_while_being_cancelled_is_protected_at_its_final_size(
        db, jobs, broker, exchange):
    jobs = _staged(jobs)
    jid, working = _partly_filled(db, jobs, exchange)
    exchange.control.set_cancel_behavior("pending", seconds=30,
                                         client_order_id=working["client_order_id"])
    # The job's wait moves the exchange's clock: the rest fills before the cancel is due.
    jobs.order_monitor(sleep=_on_the_exchanges_clock(exchange))
    book = {o["client_order_id"]: o for o in exchange.control.orders()}
    assert (book[working["client_order_id"]]["status"],
            book[working["client_order_id"]]["filled_qty"]) == ("filled", "10")
    assert [s[:4] for s in _sells(exchange)] == [("simple", "stop", "10", "new")]
    journal = db.get_by_id("trade_journal", jid)
    assert journal["protected_at"] is not None and journal["actual_qty"] == D(10)
    assert [p.qty for p in broker.get_positions() if p.symbol == "AAPL"] == [D(10)]


def test_a_refused_cancel_of_the_rest_leaves_the_filled_shares_protected(db, jobs, broker,
                                                                         exchange):
    jobs = _staged(jobs)
    jid, working = _partly_filled(db, jobs, exchange)
    exchange.control.set_prices({"AAPL": "185"})  # the rest rests (buy limit 181)
    exchange.control.set_cancel_behavior("refuse", client_order_id=working["client_order_id"])
    jobs.order_monitor()
    assert [s[:3] for s in _sells(exchange)] == [("oco", "limit", "3"), ("oco", "stop", "3")]
    assert db.get_by_id("trade_journal", jid)["protected_at"] is not None
    exchange.control.set_prices({"AAPL": "180"})  # the rest fills: 10 held, the OCO covers 3
    exchange.control.set_cancel_behavior("immediate")
    jobs.order_monitor()
    # every share covered by a live stop (the OCO's 3 and a stop for the 7 added, or one
    # stop for the 10 once the OCO's cancel is final)
    cover = sum(D(s[2]) for s in _sells(exchange) if s[1] == "stop"
                and OrderStatus(s[3]).protects)
    assert cover == D(10), _sells(exchange)
    assert [p.qty for p in broker.get_positions() if p.symbol == "AAPL"] == [D(10)]
