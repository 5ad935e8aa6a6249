"""The trader's own shares found by the pre-open run, before any fresh price exists: the
adoption cannot price their stop (EMERGENCY_STOP_PCT beyond the last trade, R9), so it alerts
and leaves them for now. Found by the lifecycle model (seed 20261208): nothing priced the stop
later, and the EXTERNAL trade went through a whole session with no stop. Now the first run
that settles the trade once a fresh price exists (the order monitor here) prices the stop
from the market and places it."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from trading_monitor.broker.models import OrderRequest

D = Decimal
PRE_OPEN = datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc)  # Mon 09:00 New York
IN_SESSION = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)  # Mon 10:00 New York


def _live_stops(exchange):  # type: ignore[no-untyped-def]
    return [o for o in exchange.control.orders() if o["symbol"] == "NVDA"
            and o["order_type"] in ("stop", "stop_limit") and o["side"] == "sell"
            and o["status"] in ("new", "accepted", "held")]


def test_an_adopted_position_with_no_price_gets_its_stop_once_a_price_exists(
        db, broker, jobs, exchange):
    broker.submit_order(OrderRequest(client_order_id="hand-nvda", symbol="NVDA", side="buy",
                                     qty=D(2), order_type="market", time_in_force="day"))
    exchange.control.advance(1)
    jobs.position_monitor()  # first seen: reconciliation's grace starts
    exchange.control.set_clock(PRE_OPEN)  # the last trade is Friday's: no fresh price
    jobs.position_monitor()
    [j] = db.execute_query("SELECT * FROM trade_journal WHERE symbol = 'NVDA'")
    assert (j["origin"], j["status"], j["planned_stop_loss"]) == ("EXTERNAL", "POSITION", None)
    assert _live_stops(exchange) == []

    jobs.order_monitor()  # before the open: still no price, nothing sent
    assert _live_stops(exchange) == []

    exchange.control.set_clock(IN_SESSION)
    exchange.control.set_prices({"NVDA": "132.00"})  # a trade in the session
    jobs.order_monitor()
    j = db.get_by_id("trade_journal", int(j["id"]))
    assert j["planned_stop_loss"] == D("125.40")  # 5% under the last trade, rounded down
    [stop] = _live_stops(exchange)
    assert (D(stop["qty"]), D(stop["stop_price"]), stop["time_in_force"]) == (
        D(2), D("125.40"), "gtc")
    [row] = db.execute_query("SELECT * FROM order_execution WHERE trade_journal_id = %s "
                             "AND order_role = 'STOP_LOSS'", [j["id"]])
    assert row["alpaca_order_id"] == stop["id"] and row["qty"] == D(2)
    assert D(exchange.control.state()["positions"][0]["qty"]) == D(2)
