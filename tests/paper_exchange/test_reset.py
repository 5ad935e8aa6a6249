"""POST /control/reset: the exchange as it was when it started."""

from __future__ import annotations

from decimal import Decimal

from alpaca.trading.enums import OrderStatus
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest

from tests.paper_exchange.conftest import OPEN_MOMENT, D


def buy(client, qty: int = 10, cid: str | None = None):  # type: ignore[no-untyped-def]
    return client.submit_order(MarketOrderRequest(symbol="AAPL", qty=qty, side="buy",
                                                  time_in_force="day", client_order_id=cid))


def test_reset_returns_to_the_start_state(client, ctl):
    fresh = ctl.state()
    first_id = str(buy(client, cid="first").id)
    ctl.reset()
    assert ctl.state() == fresh
    ctl.set_price("AAPL", Decimal("100"))
    ctl.set_partial_fill(symbol="AAPL", ratio=Decimal("0.5"))
    ctl.set_cancel_behavior("refuse")
    ctl.set_position_lag(seconds=30)
    ctl.set_rate_limit(per_min=1000)
    ctl.set_fault("GET /v2/clock", "latency", ms=1, count=5)
    ctl.set_quote("AAPL", Decimal("99"), Decimal("101"))
    ctl.set_volume("AAPL", daily=5, previous=6)
    buy(client, cid="first")
    client.submit_order(LimitOrderRequest(symbol="AAPL", qty=1, side="buy",
                                          time_in_force="gtc", limit_price=50))
    ctl.advance(3600)
    state = ctl.reset()
    assert state == fresh
    assert ctl.counters() == {} and ctl.orders() == []
    assert client.get_all_positions() == [] and D(client.get_account().cash) == 100000
    assert client.get_clock().timestamp == OPEN_MOMENT
    # Partial fills and cancel refusals are gone; ids start over as in a fresh exchange.
    again = buy(client, cid="first")
    assert str(again.id) == first_id
    assert client.get_order_by_id(again.id).status == OrderStatus.FILLED
