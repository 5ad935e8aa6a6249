"""Order types, statuses and the errors Alpaca answers, driven through alpaca-py's TradingClient."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderSide, OrderStatus, QueryOrderStatus
from alpaca.trading.requests import (
    GetOrderByIdRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    StopLimitOrderRequest,
    StopOrderRequest,
    TrailingStopOrderRequest,
)

from tests.paper_exchange.conftest import D, market, status, wait_until


def test_market_order_fills_at_current_price(client, ctl):
    ctl.set_price("AAPL", Decimal("100"))
    order = client.submit_order(market())
    assert order.status == OrderStatus.NEW and order.filled_qty == "0"
    filled = client.get_order_by_id(order.id)
    assert filled.status == OrderStatus.FILLED
    assert D(filled.filled_avg_price) == 100 and D(filled.filled_qty) == 10
    assert filled.filled_at is not None


def test_generated_ids_are_uuids_and_client_order_id_defaults(client, ctl):
    order = client.submit_order(market())
    assert len(order.client_order_id) == 36 and order.client_order_id.count("-") == 4
    same = client.get_order_by_client_id(order.client_order_id)
    assert same.id == order.id


def test_limit_rests_then_fills_when_price_crosses(client, ctl):
    ctl.set_price("MSFT", Decimal("400"))
    order = client.submit_order(LimitOrderRequest(symbol="MSFT", qty=2, side="buy",
                                                  time_in_force="gtc", limit_price=390))
    assert status(client, order.id) == OrderStatus.NEW
    ctl.set_price("MSFT", Decimal("390.50"))
    assert status(client, order.id) == OrderStatus.NEW
    ctl.set_price("MSFT", Decimal("389"))
    filled = client.get_order_by_id(order.id)
    assert filled.status == OrderStatus.FILLED and D(filled.filled_avg_price) == 389


def test_sell_stop_gap_fills_at_gap_price_not_stop(client, ctl):
    ctl.set_price("AAPL", Decimal("100"))
    client.submit_order(market(qty=5))
    stop = client.submit_order(StopOrderRequest(symbol="AAPL", qty=5, side="sell",
                                                time_in_force="gtc", stop_price=95))
    ctl.set_price("AAPL", Decimal("96"))
    assert status(client, stop.id) == OrderStatus.NEW
    ctl.set_price("AAPL", Decimal("94.50"))
    filled = client.get_order_by_id(stop.id)
    assert filled.status == OrderStatus.FILLED and D(filled.filled_avg_price) == D("94.5")


def test_stop_limit_triggers_then_waits_for_limit(client, ctl):
    ctl.set_price("NVDA", Decimal("100"))
    order = client.submit_order(StopLimitOrderRequest(
        symbol="NVDA", qty=3, side="buy", time_in_force="day", stop_price=105, limit_price=106))
    ctl.set_price("NVDA", Decimal("107"))  # triggers, but above the limit
    assert status(client, order.id) == OrderStatus.NEW
    ctl.set_price("NVDA", Decimal("105.50"))
    filled = client.get_order_by_id(order.id)
    assert filled.status == OrderStatus.FILLED and D(filled.filled_avg_price) == D("105.5")


def test_trailing_stop_follows_high_water_mark(client, ctl):
    ctl.set_price("TSLA", Decimal("200"))
    client.submit_order(market("TSLA", qty=1))
    trail = client.submit_order(TrailingStopOrderRequest(
        symbol="TSLA", qty=1, side="sell", time_in_force="gtc", trail_price=5))
    assert D(trail.hwm) == 200 and D(trail.stop_price) == 195
    ctl.set_price("TSLA", Decimal("210"))
    moved = client.get_order_by_id(trail.id)
    assert D(moved.hwm) == 210 and D(moved.stop_price) == 205 and moved.status == "new"
    ctl.set_price("TSLA", Decimal("204"))
    filled = client.get_order_by_id(trail.id)
    assert filled.status == OrderStatus.FILLED and D(filled.filled_avg_price) == 204


def test_trailing_percent_buy(client, ctl):
    ctl.set_price("AMD", Decimal("100"))
    order = client.submit_order(TrailingStopOrderRequest(
        symbol="AMD", qty=1, side="buy", time_in_force="gtc", trail_percent=10))
    assert D(order.stop_price) == 110
    ctl.set_price("AMD", Decimal("90"))
    assert D(client.get_order_by_id(order.id).stop_price) == 99
    ctl.set_price("AMD", Decimal("99.5"))
    assert status(client, order.id) == OrderStatus.FILLED


def test_day_order_expires_at_close_gtc_survives(client, ctl):
    ctl.set_price("AAPL", Decimal("100"))
    day = client.submit_order(LimitOrderRequest(symbol="AAPL", qty=1, side="buy",
                                                time_in_force="day", limit_price=50))
    gtc = client.submit_order(LimitOrderRequest(symbol="AAPL", qty=1, side="buy",
                                                time_in_force="gtc", limit_price=50))
    assert day.expires_at is not None and day.expires_at.hour == 21  # 16:00 New York
    ctl.advance(6 * 3600)  # 15:35 New York
    assert status(client, day.id) == OrderStatus.NEW
    ctl.advance(30 * 60)
    expired = client.get_order_by_id(day.id)
    assert expired.status == OrderStatus.EXPIRED and expired.expired_at is not None
    assert status(client, gtc.id) == OrderStatus.NEW


def test_gtc_expires_at_after_90_days_at_16_15_new_york(client, ctl, stream):
    ctl.set_price("AAPL", Decimal("100"))
    gtc = client.submit_order(LimitOrderRequest(symbol="AAPL", qty=1, side="buy",
                                                time_in_force="gtc", limit_price=50))
    assert gtc.expires_at.isoformat() == "2027-02-18T21:15:00+00:00"  # EST: UTC-5
    ctl.set_clock(gtc.expires_at - timedelta(seconds=1))
    assert status(client, gtc.id) == OrderStatus.NEW
    ctl.advance(1)
    # The aged-order policy's auto cancel: canceled, not expired.
    assert status(client, gtc.id) == OrderStatus.CANCELED
    wait_until(lambda: len(stream.updates) >= 2, what="the auto cancel")
    assert [u.event for u in stream.updates] == ["new", "canceled"]


def test_market_order_when_closed_waits_for_open(client, ctl, exchange):
    ctl.set_price("AAPL", Decimal("100"))
    ctl.advance(7 * 3600)  # 16:35 New York Friday: closed
    assert client.get_clock().is_open is False
    order = client.submit_order(market())
    ctl.advance(3600)
    assert status(client, order.id) == OrderStatus.NEW
    ctl.set_price("AAPL", Decimal("101"))
    assert status(client, order.id) == OrderStatus.NEW  # still closed: no fill
    opens = client.get_clock().next_open
    ctl.set_clock(opens + timedelta(seconds=1))
    filled = client.get_order_by_id(order.id)
    assert filled.status == OrderStatus.FILLED and D(filled.filled_avg_price) == 101
    # Submitted after Friday's close, a day order is good for Monday's session.
    assert filled.expires_at.date().isoformat() == "2026-11-23"


def test_cancel_open_order_and_cancel_after_fill(client, ctl):
    ctl.set_price("AAPL", Decimal("100"))
    resting = client.submit_order(LimitOrderRequest(symbol="AAPL", qty=1, side="buy",
                                                    time_in_force="gtc", limit_price=90))
    assert client.cancel_order_by_id(resting.id) is None
    canceled = client.get_order_by_id(resting.id)
    assert canceled.status == OrderStatus.CANCELED and canceled.canceled_at is not None
    filled = client.submit_order(market())
    with pytest.raises(APIError) as err:
        client.cancel_order_by_id(filled.id)
    assert err.value.status_code == 422
    assert err.value.message == 'order is already in "filled" state'


def test_unknown_order_is_404(client):
    with pytest.raises(APIError) as err:
        client.get_order_by_id("00000000-0000-4000-8000-000000000000")
    assert err.value.status_code == 404 and err.value.code == 40410000
    with pytest.raises(APIError) as err:
        client.cancel_order_by_id("00000000-0000-4000-8000-000000000000")
    assert err.value.status_code == 404
    with pytest.raises(APIError) as err:
        client.get_order_by_client_id("nope")
    assert err.value.status_code == 404


def test_client_order_id_must_be_unique_even_after_cancel(client, ctl):
    first = client.submit_order(LimitOrderRequest(symbol="AAPL", qty=1, side="buy",
                                                  time_in_force="gtc", limit_price=1,
                                                  client_order_id="decision-1"))
    client.cancel_order_by_id(first.id)
    with pytest.raises(APIError) as err:
        client.submit_order(market(client_order_id="decision-1"))
    assert err.value.status_code == 422 and err.value.code == 40010001
    assert err.value.message == "client_order_id must be unique"


def test_client_order_id_of_128_chars_is_fine(client):
    order = client.submit_order(market(client_order_id="c" * 128))
    assert order.client_order_id == "c" * 128


def test_list_orders_filters(client, ctl):
    ctl.set_price("AAPL", Decimal("100"))
    ctl.set_price("MSFT", Decimal("400"))
    a = client.submit_order(market("AAPL"))
    ctl.advance(1)
    b = client.submit_order(LimitOrderRequest(symbol="MSFT", qty=1, side="buy",
                                              time_in_force="gtc", limit_price=1))
    ctl.advance(1)
    c = client.submit_order(market("AAPL", qty=1, side="sell"))
    ids = lambda orders: [str(o.id) for o in orders]  # noqa: E731
    assert ids(client.get_orders()) == [str(b.id)]
    assert ids(client.get_orders(GetOrdersRequest(status=QueryOrderStatus.CLOSED))) == [
        str(c.id), str(a.id)]
    everything = GetOrdersRequest(status=QueryOrderStatus.ALL, direction="asc")
    assert ids(client.get_orders(everything)) == [str(a.id), str(b.id), str(c.id)]
    assert ids(client.get_orders(GetOrdersRequest(status="all", limit=1))) == [str(c.id)]
    assert ids(client.get_orders(GetOrdersRequest(status="all", symbols=["MSFT"]))) == [str(b.id)]
    assert ids(client.get_orders(GetOrdersRequest(status="all", side=OrderSide.SELL))) == [
        str(c.id)]
    assert ids(client.get_orders(GetOrdersRequest(status="all", after=a.submitted_at,
                                                  until=c.submitted_at))) == [str(b.id)]
    with pytest.raises(APIError) as err:
        client.get_orders(GetOrdersRequest(status="all", limit=501))
    assert err.value.status_code == 422


def test_get_order_nested_param(client, ctl):
    order = client.submit_order(market())
    assert client.get_order_by_id(order.id, GetOrderByIdRequest(nested=True)).id == order.id


def test_cancel_all_returns_207_per_order(client, raw_client, ctl):
    ctl.set_price("AAPL", Decimal("100"))
    orders = [client.submit_order(LimitOrderRequest(symbol="AAPL", qty=1, side="buy",
                                                    time_in_force="gtc", limit_price=p))
              for p in (90, 91)]
    responses = client.cancel_orders()
    assert sorted(str(r.id) for r in responses) == sorted(str(o.id) for o in orders)
    assert {r.status for r in responses} == {200}
    assert client.get_orders() == []


def test_fractional_and_notional_market_orders(client, ctl):
    ctl.set_price("AAPL", Decimal("200"))
    frac = client.submit_order(market(qty=0.5))
    assert D(client.get_order_by_id(frac.id).filled_qty) == D("0.5")
    notional = client.submit_order(MarketOrderRequest(symbol="AAPL", notional=100, side="buy",
                                                      time_in_force="day"))
    assert D(client.get_order_by_id(notional.id).filled_qty) == D("0.5")


def test_clock_can_jump_back(client, ctl):
    ctl.advance(3600)
    ctl.set_clock(client.get_clock().timestamp - timedelta(hours=2))
    assert client.get_clock().timestamp.hour == 8  # 08:35 New York: before the open
    assert client.get_clock().is_open is False
