"""The trader's own shares, adopted as an EXTERNAL trade, closed by hand, and then he sells
more on his own: the broker holds a short, the other side of our trade. Found by the
lifecycle model (seed 20261207): reconciliation took it for a QTY_MISMATCH of our long (9
against -4) forever; the trade stayed open, the short never got a stop and entries halted.
Now, once the trader's fills have outlasted RECONCILE_GRACE_SECONDS, our trade is closed at
his fills (MANUAL) and the short is adopted as the trader's own and stopped, through the real
jobs on the paper exchange."""

from __future__ import annotations

from decimal import Decimal

from trading_monitor.broker.models import OrderRequest

D = Decimal
GRACE = 61  # seconds: past RECONCILE_GRACE_SECONDS (60)


def _hand(broker, name: str, side: str, qty: int) -> None:  # type: ignore[no-untyped-def]
    broker.submit_order(OrderRequest(client_order_id=name, symbol="NVDA", side=side,
                                     qty=D(qty), order_type="market", time_in_force="day"))


def _our_live_stops(exchange, side: str):  # type: ignore[no-untyped-def]
    return [o for o in exchange.control.orders() if o["symbol"] == "NVDA"
            and o["order_type"] in ("stop", "stop_limit") and o["side"] == side
            and o["status"] in ("new", "accepted") and o["client_order_id"].startswith("tm-")]


def test_the_traders_short_after_our_adopted_trade_closes_it_and_is_stopped(
        db, jobs, broker, exchange):
    exchange.control.set_prices({"NVDA": "130.00"})
    _hand(broker, "hand-buy", "buy", 9)
    exchange.control.advance(1)
    jobs.position_monitor()  # first seen: reconciliation's grace starts
    exchange.control.advance(GRACE)
    jobs.position_monitor()  # adopted, with its stop
    [adopted] = db.execute_query("SELECT * FROM trade_journal")
    assert (adopted["origin"], adopted["side"], adopted["status"]) == (
        "EXTERNAL", "buy", "POSITION")
    assert [D(o["qty"]) for o in _our_live_stops(exchange, "sell")] == [D(9)]

    exchange.control.close_position_manually("NVDA")  # the trader: his stop goes with it
    _hand(broker, "hand-sell", "sell", 4)  # and then a short of his own
    exchange.control.advance(1)
    jobs.order_monitor()
    jobs.position_monitor()  # inside the grace: the positions may lag, nothing is done
    assert db.get_by_id("trade_journal", int(adopted["id"]))["status"] == "POSITION"
    assert _our_live_stops(exchange, "sell") == []  # no sell for shares the broker lacks

    exchange.control.advance(GRACE)
    jobs.order_monitor()
    report = jobs.position_monitor()
    assert report.status == "PASS", report.failing
    closed = db.get_by_id("trade_journal", int(adopted["id"]))
    assert (closed["status"], closed["exit_reason_code"], closed["exit_price"],
            closed["actual_pnl"]) == ("CLOSED", "MANUAL", D(130), D(0))
    [close] = db.execute_query("SELECT qty, side FROM fills WHERE trade_journal_id = %s AND "
                               "side = 'sell'", [adopted["id"]])
    assert (close["qty"], close["side"]) == (D(9), "sell")  # the close by hand is its exit
    [short] = db.execute_query("SELECT * FROM trade_journal WHERE id <> %s", [adopted["id"]])
    assert (short["origin"], short["side"], short["status"], short["actual_qty"]) == (
        "EXTERNAL", "sell", "POSITION", D(4))
    [stop] = _our_live_stops(exchange, "buy")
    assert D(stop["qty"]) == D(4) and D(stop["stop_price"]) > D(130)
    [row] = db.execute_query("SELECT alpaca_order_id, qty FROM order_execution WHERE "
                             "trade_journal_id = %s AND order_role = 'STOP_LOSS'", [short["id"]])
    assert (row["alpaca_order_id"], row["qty"]) == (stop["id"], D(4))
    [position] = exchange.control.state()["positions"]
    assert D(position["qty"]) == D(-4)
    assert jobs.position_monitor().status == "PASS"  # the next cycle: the issues clear
    assert db.execute_query("SELECT count(*) AS n FROM reconciliation_issue WHERE symbol = "
                            "'NVDA' AND resolved_at IS NULL")[0]["n"] == 0
