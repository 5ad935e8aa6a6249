"""R9: adopting a position the trader opened by hand must protect it, never liquidate it.

The emergency stop of an adopted position was priced from its average entry: for a position
already more than EMERGENCY_STOP_PCT under water that is through the market, so it filled at
once. It is now priced from the last trade, EMERGENCY_STOP_PCT beyond it, and never placed
marketable.
"""

from __future__ import annotations

from decimal import Decimal

from tests.support.jobs import Jobs
from trading_monitor.broker.models import OrderRequest

D = Decimal


def _graced(jobs: Jobs) -> Jobs:
    return jobs.with_settings(RECONCILE_GRACE_SECONDS="60")


def _by_hand(broker, side, qty):
    broker.submit_order(OrderRequest(client_order_id=f"by-hand-{side}", symbol="AAPL",
                                     side=side, qty=D(qty), order_type="market",
                                     time_in_force="day"))


def _adopt(exchange, jobs: Jobs, price):
    exchange.control.advance(1)
    exchange.control.set_price("AAPL", price)  # the trader's position is under water
    jobs.position_monitor()
    exchange.control.advance(61)
    report = jobs.position_monitor()
    exchange.control.advance(1)
    jobs.position_monitor()
    return report


def _stops(exchange):
    # (the exchange, like Alpaca, may hold a buy stop as a stop-limit)
    return [(o["side"], "stop", o["status"], D(o["stop_price"]))
            for o in exchange.control.orders() if o["symbol"] == "AAPL"
            and o["order_type"] in ("stop", "stop_limit")]


def _held(exchange):
    return {p["symbol"]: D(p["qty"]) for p in exchange.control.state()["positions"]}


def test_an_under_water_long_is_protected_below_the_market_not_sold(db, jobs, broker,
                                                                    exchange):
    jobs = _graced(jobs)
    _by_hand(broker, "buy", 100)  # at 180
    report = _adopt(exchange, jobs, "168.00")  # -6.7 %
    assert _held(exchange) == {"AAPL": D(100)}, report.actions  # not liquidated
    assert _stops(exchange) == [("sell", "stop", "new", D("159.60"))], report.actions
    [journal] = db.query("trade_journal", {"origin": "EXTERNAL"})
    assert (journal["status"], journal["planned_stop_loss"]) == ("POSITION", D("159.60"))


def test_an_under_water_short_is_protected_above_the_market_not_bought_back(db, jobs,
                                                                            broker, exchange):
    jobs = _graced(jobs)
    exchange.control.set_price("AAPL", "180.00")
    _by_hand(broker, "sell", 50)  # short at 180
    report = _adopt(exchange, jobs, "192.00")  # -6.7 % for a short
    assert _held(exchange) == {"AAPL": D(-50)}, report.actions
    assert _stops(exchange) == [("buy", "stop", "new", D("201.60"))], report.actions
