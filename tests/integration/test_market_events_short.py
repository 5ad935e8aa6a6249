"""The short side (issue 21): an opening short's buying power is Alpaca's, the greater of
the limit and 3% above the ask, times the quantity."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from tests.helpers import add_decision, entry, orders_at_broker, outcome

D = Decimal


def _short(qty: int) -> dict:  # type: ignore[type-arg]
    return entry("AAPL", side="SELL", entry_price="200.00", stop_loss="206.00",
                 take_profit="190.00", quantity=qty)


def test_an_opening_short_needs_3_percent_over_the_ask(db, jobs, broker, exchange):
    jobs = jobs.with_settings(MAX_NOTIONAL_PER_ORDER="off", MAX_TOTAL_EXPOSURE="off",
                              CHECK_BUYING_POWER="true")
    exchange.control.set_prices({"AAPL": "200.00"})
    exchange.control.set_quote("AAPL", "199.90", "200.10")
    power = broker.get_account().buying_power
    # At the limit it fits; at 3% above the ask (206.103) it does not.
    qty = int((power / D("203")).to_integral_value(ROUND_FLOOR))
    assert D(200) * qty <= power < D("206.103") * qty
    d = add_decision(db, _short(qty))
    jobs.executor()
    reason = outcome(db, d)["reason"]
    assert "insufficient buying power: order needs" in reason
    assert "an opening short: 3% above the ask 200.1, 206.1030, over the limit 200.00" in reason
    assert orders_at_broker(exchange) == []
    small = add_decision(db, _short(10))  # 2,061.03: well within
    jobs.executor()
    assert outcome(db, small)["terminal_state"] == "EXECUTED", outcome(db, small)["reason"]
