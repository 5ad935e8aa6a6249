"""Replace (PATCH /v2/orders/{id}): new ids, links between old and new, what may change."""

from __future__ import annotations

from decimal import Decimal

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderStatus, TimeInForce
from alpaca.trading.requests import (
    LimitOrderRequest,
    ReplaceOrderRequest,
    StopOrderRequest,
    TrailingStopOrderRequest,
)

from tests.paper_exchange.conftest import D, market, status


def test_replace_gives_new_id_and_links_both_orders(client, ctl):
    ctl.set_price("AAPL", Decimal("100"))
    old = client.submit_order(LimitOrderRequest(symbol="AAPL", qty=2, side="buy",
                                                time_in_force="day", limit_price=90))
    new = client.replace_order_by_id(old.id, ReplaceOrderRequest(
        qty=3, limit_price=95, time_in_force=TimeInForce.GTC, client_order_id="moved"))
    assert new.id != old.id and str(new.replaces) == str(old.id)
    assert D(new.qty) == 3 and D(new.limit_price) == 95 and new.time_in_force == "gtc"
    # A GTC replacement gets its own 90-day expiry: 2027-02-18 16:15 New York.
    assert new.client_order_id == "moved" and new.expires_at.isoformat() == (
        "2027-02-18T21:15:00+00:00")
    replaced = client.get_order_by_id(old.id)
    assert replaced.status == OrderStatus.REPLACED and str(replaced.replaced_by) == str(new.id)
    ctl.set_price("AAPL", Decimal("94"))
    assert status(client, new.id) == OrderStatus.FILLED
    with pytest.raises(APIError) as err:
        client.replace_order_by_id(new.id, ReplaceOrderRequest(qty=1))
    assert err.value.status_code == 422


def test_replace_stop_price_and_trail(client, ctl):
    ctl.set_price("AAPL", Decimal("100"))
    client.submit_order(market(qty=2))
    stop = client.submit_order(StopOrderRequest(symbol="AAPL", qty=1, side="sell",
                                                time_in_force="gtc", stop_price=90))
    moved = client.replace_order_by_id(stop.id, ReplaceOrderRequest(stop_price=97))
    assert D(moved.stop_price) == 97
    trail = client.submit_order(TrailingStopOrderRequest(symbol="AAPL", qty=1, side="sell",
                                                         time_in_force="gtc", trail_price=5))
    moved_trail = client.replace_order_by_id(trail.id, ReplaceOrderRequest(trail=2))
    assert D(moved_trail.trail_price) == 2 and D(moved_trail.stop_price) == 98
    with pytest.raises(APIError):
        client.replace_order_by_id(stop.id, ReplaceOrderRequest(limit_price=1))


def test_replace_validation(client, ctl):
    ctl.set_price("AAPL", Decimal("100"))
    order = client.submit_order(LimitOrderRequest(symbol="AAPL", qty=1, side="buy",
                                                  time_in_force="gtc", limit_price=50,
                                                  client_order_id="taken"))
    for body, fragment in [({}, "at least one"), ({"trail": "1"}, "trail"),
                           ({"stop_price": "1"}, "stop_price"),
                           ({"time_in_force": "fok"}, "time_in_force"),
                           ({"client_order_id": "taken"}, "must be unique")]:
        with pytest.raises(APIError) as err:
            client.patch(f"/orders/{order.id}", body)
        assert err.value.status_code == 422 and fragment in err.value.message


def sell_limit(client, qty: int, limit: float):  # type: ignore[no-untyped-def]
    return client.submit_order(LimitOrderRequest(symbol="AAPL", qty=qty, side="sell",
                                                 time_in_force="gtc", limit_price=limit))


def test_shares_held_by_one_closing_order_refuse_another(client, ctl):
    ctl.set_price("AAPL", Decimal("100"))
    client.submit_order(market(qty=10))
    sell_limit(client, 10, 200)
    assert D(client.get_open_position("AAPL").qty_available) == 0
    with pytest.raises(APIError) as err:
        client.submit_order(market(qty=1, side="sell"))
    assert err.value.status_code == 403 and err.value.code == 40310000
    assert err.value.message == "insufficient qty available for order (requested: 1, available: 0)"


def test_replace_may_not_take_shares_held_by_another_order(client, ctl):
    ctl.set_price("AAPL", Decimal("100"))
    client.submit_order(market(qty=10))
    first, second = sell_limit(client, 5, 200), sell_limit(client, 5, 201)
    with pytest.raises(APIError) as err:
        client.replace_order_by_id(first.id, ReplaceOrderRequest(qty=6))
    assert err.value.status_code == 403 and err.value.code == 40310000
    assert err.value.message == "insufficient qty available for order (requested: 6, available: 5)"
    assert status(client, first.id) == OrderStatus.NEW  # untouched by the refusal
    moved = client.replace_order_by_id(first.id, ReplaceOrderRequest(qty=5, limit_price=199))
    client.cancel_order_by_id(second.id)
    assert D(client.get_open_position("AAPL").qty_available) == 5
    assert D(client.replace_order_by_id(moved.id, ReplaceOrderRequest(qty=10)).qty) == 10


def test_replace_may_not_exceed_buying_power(client, ctl):
    ctl.set_price("AAPL", Decimal("100"))
    order = client.submit_order(LimitOrderRequest(symbol="AAPL", qty=500, side="buy",
                                                  time_in_force="gtc", limit_price=90))
    assert D(client.replace_order_by_id(order.id, ReplaceOrderRequest(qty=1000)).qty) == 1000
    latest = client.get_orders()[0]
    with pytest.raises(APIError) as err:
        client.replace_order_by_id(latest.id, ReplaceOrderRequest(qty=1200))
    assert err.value.status_code == 403 and err.value.message == "insufficient buying power"
