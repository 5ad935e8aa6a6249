"""Bracket, OCO and OTO order classes: held legs, sibling cancels, partial exits."""

from __future__ import annotations

from decimal import Decimal

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderClass, OrderStatus
from alpaca.trading.requests import (
    GetOrderByIdRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLossRequest,
    TakeProfitRequest,
)

from tests.paper_exchange.conftest import D, wait_until


def bracket(qty: int = 10, tp: float = 110, sl: float = 95, sl_limit: float | None = None,
            **kw: object) -> MarketOrderRequest:
    return MarketOrderRequest(
        symbol="AAPL", qty=qty, side="buy", time_in_force="gtc", order_class=OrderClass.BRACKET,
        take_profit=TakeProfitRequest(limit_price=tp),
        stop_loss=StopLossRequest(stop_price=sl, limit_price=sl_limit), **kw)


def legs(client, order_id):  # type: ignore[no-untyped-def]
    parent = client.get_order_by_id(order_id, GetOrderByIdRequest(nested=True))
    by_type = {leg.type.value: leg for leg in parent.legs}
    return parent, by_type["limit"], by_type.get("stop") or by_type.get("stop_limit")


@pytest.fixture(autouse=True)
def _price(ctl):  # type: ignore[no-untyped-def]
    ctl.set_price("AAPL", Decimal("100"))


def test_legs_are_held_until_parent_fills(client, ctl):
    ctl.advance(7 * 3600)  # closed: the parent cannot fill yet
    order = client.submit_order(bracket())
    assert order.order_class == OrderClass.BRACKET and len(order.legs) == 2
    assert {leg.status for leg in order.legs} == {OrderStatus.HELD}
    assert {leg.side.value for leg in order.legs} == {"sell"}
    parent, tp, sl = legs(client, order.id)
    assert parent.status == OrderStatus.NEW and tp.status == sl.status == OrderStatus.HELD
    assert D(tp.limit_price) == 110 and D(sl.stop_price) == 95


def test_take_profit_fill_cancels_stop(client, ctl):
    order = client.submit_order(bracket())
    parent, tp, sl = legs(client, order.id)
    assert parent.status == OrderStatus.FILLED
    # As on Alpaca: the take-profit works, the stop-loss stays held until its stop trades.
    assert tp.status == OrderStatus.NEW and sl.status == OrderStatus.HELD
    ctl.set_price("AAPL", Decimal("111"))
    _, tp, sl = legs(client, order.id)
    assert tp.status == OrderStatus.FILLED and D(tp.filled_avg_price) == 111
    assert sl.status == OrderStatus.CANCELED
    assert client.get_all_positions() == []


def test_stop_loss_gap_fill_cancels_take_profit(client, ctl):
    order = client.submit_order(bracket())
    ctl.set_price("AAPL", Decimal("90"))
    _, tp, sl = legs(client, order.id)
    assert sl.status == OrderStatus.FILLED and D(sl.filled_avg_price) == 90
    assert tp.status == OrderStatus.CANCELED


def test_stop_limit_leg(client, ctl):
    order = client.submit_order(bracket(sl=95, sl_limit=94))
    _, _, sl = legs(client, order.id)
    assert sl.type.value == "stop_limit" and D(sl.limit_price) == 94
    assert legs(client, order.id)[2].status == OrderStatus.HELD
    ctl.set_price("AAPL", Decimal("93"))  # triggered but below the limit
    _, tp, sl = legs(client, order.id)
    assert sl.status == OrderStatus.NEW and tp.status == OrderStatus.CANCELED
    ctl.set_price("AAPL", Decimal("94.5"))
    assert legs(client, order.id)[2].status == OrderStatus.FILLED


def test_cancelling_one_leg_cancels_the_group(client, ctl):
    order = client.submit_order(bracket())
    _, tp, sl = legs(client, order.id)
    client.cancel_order_by_id(sl.id)
    _, tp, sl = legs(client, order.id)
    assert tp.status == sl.status == OrderStatus.CANCELED


def test_cancelling_unfilled_parent_cancels_legs(client, ctl):
    order = client.submit_order(LimitOrderRequest(
        symbol="AAPL", qty=5, side="buy", time_in_force="gtc", limit_price=98,
        order_class="bracket", take_profit=TakeProfitRequest(limit_price=105),
        stop_loss=StopLossRequest(stop_price=90)))
    client.cancel_order_by_id(order.id)
    parent, tp, sl = legs(client, order.id)
    assert parent.status == tp.status == sl.status == OrderStatus.CANCELED


def test_stop_loss_leg_released_when_its_stop_trades(client, ctl, stream):
    order = client.submit_order(bracket(qty=3))
    ctl.set_price("AAPL", Decimal("96"))  # above the stop: nothing happens
    assert legs(client, order.id)[2].status == OrderStatus.HELD
    ctl.set_price("AAPL", Decimal("95"))
    _, tp, sl = legs(client, order.id)
    assert sl.status == OrderStatus.FILLED and D(sl.filled_avg_price) == 95
    assert tp.status == OrderStatus.CANCELED
    wait_until(lambda: len(stream.updates) >= 6, what="six events")
    assert [(u.event, u.order.type.value) for u in stream.updates] == [
        ("new", "market"), ("fill", "market"), ("new", "limit"), ("new", "stop"),
        ("canceled", "limit"), ("fill", "stop")]


def test_cancelling_partly_filled_parent_cancels_its_legs(client, ctl):
    ctl.set_partial_fill(symbol="AAPL", ratio=Decimal("0.5"))
    order = client.submit_order(bracket())
    client.cancel_order_by_id(order.id)
    parent, tp, sl = legs(client, order.id)
    assert parent.status == tp.status == sl.status == OrderStatus.CANCELED
    assert D(parent.filled_qty) == 5 and D(client.get_open_position("AAPL").qty) == 5


def test_partially_filled_parent_keeps_legs_held_then_releases(client, ctl):
    ctl.set_partial_fill(symbol="AAPL", ratio=Decimal("0.5"))
    order = client.submit_order(bracket())
    parent, tp, sl = legs(client, order.id)
    assert parent.status == OrderStatus.PARTIALLY_FILLED and D(parent.filled_qty) == 5
    assert tp.status == sl.status == OrderStatus.HELD
    ctl.advance(1)  # next match fills the remainder
    parent, tp, sl = legs(client, order.id)
    assert parent.status == OrderStatus.FILLED
    assert tp.status == OrderStatus.NEW and sl.status == OrderStatus.HELD


def test_take_profit_partial_fill_shrinks_stop(client, ctl):
    order = client.submit_order(bracket())
    _, tp, _ = legs(client, order.id)
    ctl.set_partial_fill(client_order_id=tp.client_order_id, ratio=Decimal("0.3"))
    ctl.set_price("AAPL", Decimal("110"))
    _, tp, sl = legs(client, order.id)
    assert tp.status == OrderStatus.PARTIALLY_FILLED and D(tp.filled_qty) == 3
    assert D(sl.qty) == 7 and sl.status == OrderStatus.HELD
    position = client.get_open_position("AAPL")
    assert D(position.qty) == 7


@pytest.mark.parametrize(
    ("tp", "sl", "fragment"),
    [(99, 95, "take_profit.limit_price"), (110, 101, "stop_loss.stop_price"),
     (110, 100, "stop_loss.stop_price")],
)
def test_bracket_prices_validated_like_alpaca(client, tp, sl, fragment):
    with pytest.raises(APIError) as err:
        client.submit_order(bracket(tp=tp, sl=sl))
    assert err.value.status_code == 422 and fragment in err.value.message


def test_sell_bracket_prices_are_mirrored(client):
    with pytest.raises(APIError):
        client.submit_order(MarketOrderRequest(
            symbol="AAPL", qty=1, side="sell", time_in_force="gtc", order_class="bracket",
            take_profit=TakeProfitRequest(limit_price=110),
            stop_loss=StopLossRequest(stop_price=105)))
    short = client.submit_order(MarketOrderRequest(
        symbol="AAPL", qty=1, side="sell", time_in_force="gtc", order_class="bracket",
        take_profit=TakeProfitRequest(limit_price=90), stop_loss=StopLossRequest(stop_price=105)))
    assert {leg.side.value for leg in short.legs} == {"buy"}


def test_oco_exits_existing_position(client, ctl):
    client.submit_order(MarketOrderRequest(symbol="AAPL", qty=4, side="buy", time_in_force="day"))
    oco = client.submit_order(LimitOrderRequest(
        symbol="AAPL", qty=4, side="sell", time_in_force="gtc", order_class=OrderClass.OCO,
        take_profit=TakeProfitRequest(limit_price=110), stop_loss=StopLossRequest(stop_price=95)))
    assert oco.order_class == OrderClass.OCO and oco.status == OrderStatus.NEW
    assert oco.legs[0].status == OrderStatus.NEW and D(oco.legs[0].stop_price) == 95
    ctl.set_price("AAPL", Decimal("94"))
    parent = client.get_order_by_id(oco.id, GetOrderByIdRequest(nested=True))
    stop = parent.legs[0]
    assert stop.status == OrderStatus.FILLED and parent.status == OrderStatus.CANCELED


def oco(qty: int = 4, tp: float = 110, sl: float = 95,
        sl_limit: float | None = None) -> LimitOrderRequest:
    return LimitOrderRequest(
        symbol="AAPL", qty=qty, side="sell", time_in_force="gtc", order_class=OrderClass.OCO,
        take_profit=TakeProfitRequest(limit_price=tp),
        stop_loss=StopLossRequest(stop_price=sl, limit_price=sl_limit))


def test_oco_needs_a_position_and_its_shares(client, ctl):
    with pytest.raises(APIError) as err:
        client.submit_order(oco())
    assert err.value.status_code == 403
    assert err.value.message == "insufficient qty available for order (requested: 4, available: 0)"
    client.submit_order(MarketOrderRequest(symbol="AAPL", qty=4, side="buy", time_in_force="day"))
    client.submit_order(oco())
    assert D(client.get_open_position("AAPL").qty_available) == 0  # both exits hold it once
    with pytest.raises(APIError) as err:
        client.submit_order(oco(qty=1))
    assert err.value.status_code == 403 and "available: 0" in err.value.message


def test_oco_stop_limit_leg_and_take_profit_fill(client, ctl):
    client.submit_order(MarketOrderRequest(symbol="AAPL", qty=4, side="buy", time_in_force="day"))
    order = client.submit_order(oco(sl=95, sl_limit=94))
    assert order.legs[0].type.value == "stop_limit" and D(order.legs[0].limit_price) == 94
    moved = client.replace_order_by_id(order.id, ReplaceOrderRequest(limit_price=108))
    ctl.set_price("AAPL", Decimal("108"))
    parent = client.get_order_by_id(moved.id, GetOrderByIdRequest(nested=True))
    assert parent.status == OrderStatus.FILLED and D(parent.filled_avg_price) == 108
    assert parent.legs[0].status == OrderStatus.CANCELED
    assert client.get_all_positions() == []


def test_oco_prices_validated_against_the_market(client, ctl):
    client.submit_order(MarketOrderRequest(symbol="AAPL", qty=4, side="buy", time_in_force="day"))
    with pytest.raises(APIError) as err:
        client.submit_order(oco(tp=99))
    assert err.value.status_code == 422 and "take_profit.limit_price" in err.value.message
    with pytest.raises(APIError) as err:
        client.submit_order(oco(sl=100))
    assert err.value.status_code == 422 and "stop_loss.stop_price" in err.value.message


def test_oto_single_exit(client, ctl):
    order = client.submit_order(MarketOrderRequest(
        symbol="AAPL", qty=2, side="buy", time_in_force="gtc", order_class=OrderClass.OTO,
        stop_loss=StopLossRequest(stop_price=95)))
    assert len(order.legs) == 1 and order.legs[0].status == OrderStatus.HELD
    leg = client.get_order_by_id(order.id, GetOrderByIdRequest(nested=True)).legs[0]
    assert leg.status == OrderStatus.NEW


def test_nested_listing_puts_legs_under_parent(client):
    order = client.submit_order(bracket())
    nested = client.get_orders(GetOrdersRequest(status="all", nested=True))
    assert [str(o.id) for o in nested] == [str(order.id)] and len(nested[0].legs) == 2
    flat = client.get_orders(GetOrdersRequest(status="all"))
    assert len(flat) == 3 and all(o.legs is None for o in flat)


def test_replacing_stop_leg_keeps_the_group(client, ctl):
    order = client.submit_order(bracket())
    _, tp, sl = legs(client, order.id)
    moved = client.replace_order_by_id(sl.id, ReplaceOrderRequest(stop_price=99))
    _, tp2, sl2 = legs(client, order.id)
    assert str(sl2.id) == str(moved.id) and D(sl2.stop_price) == 99
    ctl.set_price("AAPL", Decimal("98"))
    _, tp3, sl3 = legs(client, order.id)
    assert sl3.status == OrderStatus.FILLED and tp3.status == OrderStatus.CANCELED


def test_exit_legs_hold_the_position_qty(client):
    client.submit_order(bracket())
    with pytest.raises(APIError) as err:
        client.close_position("AAPL")
    assert err.value.status_code == 403 and "insufficient qty available" in err.value.message
