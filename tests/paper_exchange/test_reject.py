"""Rejection after acceptance: the broker takes an order, then rejects it (control API)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from alpaca.trading.enums import OrderStatus
from alpaca.trading.requests import (
    GetOrderByIdRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    StopLossRequest,
    TakeProfitRequest,
)

from tests.paper_exchange.conftest import D, wait_until
from trading_monitor.paper_exchange import ControlError


@pytest.fixture(autouse=True)
def _price(ctl):  # type: ignore[no-untyped-def]
    ctl.set_price("AAPL", Decimal("100"))


def test_reject_an_accepted_order(client, ctl, stream):
    order = client.submit_order(LimitOrderRequest(symbol="AAPL", qty=10, side="buy",
                                                  time_in_force="gtc", limit_price=90,
                                                  client_order_id="late-reject"))
    before = D(client.get_account().buying_power)
    answer = ctl.reject("late-reject", "halted by the exchange")
    assert answer["reason"] == "halted by the exchange"
    assert [o["status"] for o in answer["orders"]] == ["rejected"]
    rejected = client.get_order_by_id(order.id)
    assert rejected.status == OrderStatus.REJECTED and rejected.failed_at is not None
    assert D(client.get_account().buying_power) == before + 900  # no longer reserved
    wait_until(lambda: len(stream.updates) >= 2, what="the rejection")
    assert [u.event for u in stream.updates] == ["new", "rejected"]
    ctl.set_price("AAPL", Decimal("89"))
    assert client.get_order_by_id(order.id).status == OrderStatus.REJECTED  # never trades


def test_reject_a_bracket_rejects_its_legs(client, ctl):
    ctl.advance(7 * 3600)  # closed: the entry waits
    order = client.submit_order(MarketOrderRequest(
        symbol="AAPL", qty=5, side="buy", time_in_force="gtc", order_class="bracket",
        client_order_id="bracket-1", take_profit=TakeProfitRequest(limit_price=110),
        stop_loss=StopLossRequest(stop_price=95)))
    assert len(ctl.reject("bracket-1", "no")["orders"]) == 3
    parent = client.get_order_by_id(order.id, GetOrderByIdRequest(nested=True))
    assert {parent.status} | {leg.status for leg in parent.legs} == {OrderStatus.REJECTED}


def test_reject_errors(client, ctl):
    with pytest.raises(ControlError) as err:
        ctl.reject("nobody", "x")
    assert err.value.status == 404
    client.submit_order(MarketOrderRequest(symbol="AAPL", qty=1, side="buy",
                                           time_in_force="day", client_order_id="done"))
    with pytest.raises(ControlError) as err:
        ctl.reject("done", "too late")  # filled
    assert err.value.status == 422
    ctl.set_partial_fill(client_order_id="half", ratio=Decimal("0.5"))
    client.submit_order(MarketOrderRequest(symbol="AAPL", qty=4, side="buy",
                                           time_in_force="day", client_order_id="half"))
    with pytest.raises(ControlError) as err:
        ctl.reject("half", "something filled")
    assert err.value.status == 422
