"""A trade whose exit the broker has filled is closed, with its P&L, in the run that books
the fill: never left POSITION while the broker holds nothing (the books never hold more
than the broker).

- The order monitor: a stop the broker refuses (403, not a wash trade) is answered with an
  emergency market exit; it fills at once, and the same run follows it to its fill and
  closes the trade (found by the lifecycle model, replay EMERGENCY_EXIT_FILLED_BUT_THE_
  POSITION_KEPT in tests/model/test_model_regressions.py).
- The position monitor: its sync books a stop's fill; the same run closes the trade.
"""

from __future__ import annotations

from decimal import Decimal

D = Decimal


def _held(exchange):
    return {p["symbol"]: D(p["qty"]) for p in exchange.control.state()["positions"]}


def _tracked(db, jid):
    return db.query("position_tracking", {"trade_journal_id": jid})


def test_a_filled_emergency_exit_closes_the_trade_in_the_same_run(db, jobs, exchange):
    jobs = jobs.with_settings(PROTECTION_MODE="staged")
    jid = jobs.position(db, trade_style="DAYTRADE", take_profit=None, protect=False)
    assert _held(exchange) == {"AAPL": D(10)}
    exchange.control.set_fault("POST /v2/orders", "http_status", status=403, code=40310000,
                               message="forbidden", count=1)  # the stop is refused
    report = jobs.order_monitor()
    exits = [o for o in exchange.control.orders() if o["side"] == "sell"]
    assert [(o["order_type"], o["qty"], o["status"]) for o in exits] == [
        ("market", "10", "filled")], report.actions
    assert _held(exchange) == {}
    journal = db.get_by_id("trade_journal", jid)
    assert (journal["status"], journal["exit_reason_code"]) == ("CLOSED", "EMERGENCY"), \
        report.actions
    fills = db.query("fills", {"trade_journal_id": jid})
    bought = sum(f["qty"] * f["price"] for f in fills if f["side"] == "buy")
    sold = sum(f["qty"] * f["price"] for f in fills if f["side"] == "sell")
    assert journal["exit_price"] == D(exits[0]["filled_avg_price"])
    assert journal["actual_pnl"] + journal["fees"] == sold - bought
    assert _tracked(db, jid) == []


def test_a_stop_filled_before_the_position_monitor_closes_the_trade_there(
        db, jobs, exchange):
    jobs = jobs.with_settings(PROTECTION_MODE="staged")
    jid = jobs.position(db, stop_loss="170.00", take_profit="190.00", protect=False)
    jobs.order_monitor()  # the OCO: stop 170, target 190
    exchange.control.set_price("AAPL", "169.00")  # through the stop: it fills
    assert _held(exchange) == {}
    report = jobs.position_monitor()  # the first run to see the fill
    journal = db.get_by_id("trade_journal", jid)
    assert (journal["status"], journal["exit_reason_code"]) == ("CLOSED", "STOPPED_OUT"), \
        report.actions
    assert journal["actual_pnl"] < 0
    assert _tracked(db, jid) == []
    assert [(o["order_type"], o["status"]) for o in exchange.control.orders()
            if o["side"] == "sell"] == [("limit", "canceled"), ("stop", "filled")]
