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

from tests.conftest import exchange_env
from tests.helpers import add_decision, entry, monitor, outcome, run, watch
from trading_monitor.settings.config import load_settings

D = Decimal


def _position(db, db_params, broker, settings, **body) -> int:
    d = add_decision(db, entry(entry_price="181.00", **body))
    run(db_params, broker, settings)
    assert outcome(db, d)["terminal_state"] == "EXECUTED", outcome(db, d)["reason"]
    return int(outcome(db, d)["trade_journal_id"])


def _held(exchange):
    return {p["symbol"]: D(p["qty"]) for p in exchange.control.state()["positions"]}


def _tracked(db, jid):
    return db.query("position_tracking", {"trade_journal_id": jid})


def test_a_filled_emergency_exit_closes_the_trade_in_the_same_run(db, db_params, broker,
                                                                  exchange):
    settings = load_settings(exchange_env(exchange, PROTECTION_MODE="staged"), need_broker=True)
    jid = _position(db, db_params, broker, settings, trade_style="DAYTRADE", take_profit=None,
                    stop_loss="175.00")
    assert _held(exchange) == {"AAPL": D(10)}
    exchange.control.set_fault("POST /v2/orders", "http_status", status=403, code=40310000,
                               message="forbidden", count=1)  # the stop is refused
    report = monitor(db_params, broker, settings)
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
        db, db_params, broker, exchange):
    settings = load_settings(exchange_env(exchange, PROTECTION_MODE="staged"), need_broker=True)
    jid = _position(db, db_params, broker, settings)
    monitor(db_params, broker, settings)  # the OCO: stop 170, target 190
    exchange.control.set_price("AAPL", "169.00")  # through the stop: it fills
    assert _held(exchange) == {}
    report = watch(db_params, broker, settings)  # the first run to see the fill
    journal = db.get_by_id("trade_journal", jid)
    assert (journal["status"], journal["exit_reason_code"]) == ("CLOSED", "STOPPED_OUT"), \
        report.actions
    assert journal["actual_pnl"] < 0
    assert _tracked(db, jid) == []
    assert [(o["order_type"], o["status"]) for o in exchange.control.orders()
            if o["side"] == "sell"] == [("limit", "canceled"), ("stop", "filled")]
