"""Cancel behaviours a broker shows: pending_cancel for a while, refused cancels, immediate."""

from __future__ import annotations

from decimal import Decimal

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderStatus
from alpaca.trading.requests import (
    GetOrderByIdRequest,
    LimitOrderRequest,
    ReplaceOrderRequest,
    StopLossRequest,
    TakeProfitRequest,
)

from tests.paper_exchange.conftest import D, wait_until
from trading_monitor.paper_exchange import ControlError


def resting(client, cid: str | None = None, qty: int = 10, limit: float = 99):  # type: ignore[no-untyped-def]
    return client.submit_order(LimitOrderRequest(symbol="AAPL", qty=qty, side="buy",
                                                 time_in_force="gtc", limit_price=limit,
                                                 client_order_id=cid))


def status(client, order) -> str:  # type: ignore[no-untyped-def]
    return str(client.get_order_by_id(order.id).status.value)


@pytest.fixture(autouse=True)
def _price(ctl):  # type: ignore[no-untyped-def]
    ctl.set_price("AAPL", Decimal("100"))


def test_pending_cancel_lasts_simulated_seconds_then_cancels(client, ctl, stream):
    ctl.set_cancel_behavior("pending", seconds=30)
    order = resting(client)
    assert client.cancel_order_by_id(order.id) is None  # 204, as Alpaca answers
    assert status(client, order) == "pending_cancel"
    ctl.advance(29)
    assert status(client, order) == "pending_cancel"
    ctl.advance(1)
    done = client.get_order_by_id(order.id)
    assert done.status == OrderStatus.CANCELED and done.canceled_at is not None
    wait_until(lambda: len(stream.updates) >= 3, what="three events")
    assert [u.event for u in stream.updates] == ["new", "pending_cancel", "canceled"]
    assert stream.updates[1].order.status == "pending_cancel"


def test_fill_while_pending_cancel_wins(client, ctl):
    ctl.set_cancel_behavior("pending", seconds=30)
    order = resting(client)
    client.cancel_order_by_id(order.id)
    ctl.set_price("AAPL", Decimal("98"))
    assert status(client, order) == "filled"
    ctl.advance(60)
    assert status(client, order) == "filled"
    assert D(client.get_open_position("AAPL").qty) == 10


def test_partial_fill_while_pending_cancel_then_canceled(client, ctl):
    ctl.set_cancel_behavior("pending", seconds=30)
    order = resting(client, cid="part-1")
    ctl.set_partial_fill(client_order_id="part-1", ratio=Decimal("0.5"))
    client.cancel_order_by_id(order.id)
    ctl.set_price("AAPL", Decimal("98"))
    pending = client.get_order_by_id(order.id)
    assert pending.status == OrderStatus.PENDING_CANCEL and D(pending.filled_qty) == 5
    ctl.advance(30)
    done = client.get_order_by_id(order.id)
    assert done.status == OrderStatus.CANCELED and D(done.filled_qty) == 5
    assert D(client.get_open_position("AAPL").qty) == 5


def test_pending_cancel_for_one_client_order_id(client, ctl):
    ctl.set_cancel_behavior("pending", seconds=10, client_order_id="slow")
    slow, quick = resting(client, "slow"), resting(client, "quick", limit=98)
    client.cancel_order_by_id(quick.id)
    client.cancel_order_by_id(slow.id)
    assert (status(client, quick), status(client, slow)) == ("canceled", "pending_cancel")
    assert ctl.state()["cancel_behavior"]["orders"] == {"slow": {"mode": "pending",
                                                                 "seconds": 10.0}}


def test_no_replace_and_no_second_cancel_while_pending(client, ctl):
    ctl.set_cancel_behavior("pending", seconds=30)
    order = resting(client)
    client.cancel_order_by_id(order.id)
    with pytest.raises(APIError) as err:
        client.replace_order_by_id(order.id, ReplaceOrderRequest(limit_price=97))
    assert err.value.status_code == 422 and err.value.code == 42210000
    assert err.value.message == 'order is already in "pending_cancel" state'
    with pytest.raises(APIError) as err:
        client.cancel_order_by_id(order.id)
    assert err.value.status_code == 422


def test_refused_cancel_leaves_the_order_live(client, ctl):
    ctl.set_cancel_behavior("refuse", client_order_id="stuck")
    stuck, other = resting(client, "stuck"), resting(client, "other", limit=98)
    with pytest.raises(APIError) as err:
        client.cancel_order_by_id(stuck.id)
    assert err.value.status_code == 422
    assert (err.value.code, err.value.message) == (42210000, "order is not cancelable")
    assert status(client, stuck) == "new"
    client.cancel_order_by_id(other.id)
    assert status(client, other) == "canceled"
    ctl.set_price("AAPL", Decimal("99"))
    assert status(client, stuck) == "filled"  # still live: it trades


def test_refuse_all_then_immediate_clears(client, ctl):
    ctl.set_cancel_behavior("refuse")
    order = resting(client)
    with pytest.raises(APIError):
        client.cancel_order_by_id(order.id)
    ctl.set_cancel_behavior("immediate")
    client.cancel_order_by_id(order.id)
    assert status(client, order) == "canceled"
    assert ctl.state()["cancel_behavior"] == {"mode": "immediate", "seconds": None,
                                              "orders": {}}


def test_cancel_all_reports_refusals_and_pending(client, ctl):
    ctl.set_cancel_behavior("refuse", client_order_id="stuck")
    ctl.set_cancel_behavior("pending", seconds=5, client_order_id="slow")
    stuck, slow = resting(client, "stuck"), resting(client, "slow", limit=98)
    quick = resting(client, "quick", limit=97)
    answers = {str(r.id): r for r in client.cancel_orders()}
    assert answers[str(stuck.id)].status == 422
    assert answers[str(stuck.id)].body == {"code": 42210000, "message": "order is not cancelable"}
    assert answers[str(slow.id)].status == answers[str(quick.id)].status == 200
    assert answers[str(slow.id)].body["status"] == "pending_cancel"
    assert [status(client, o) for o in (stuck, slow, quick)] == ["new", "pending_cancel",
                                                                  "canceled"]


def test_pending_cancel_of_a_bracket_cancels_the_group_when_due(client, ctl):
    ctl.set_cancel_behavior("pending", seconds=20)
    order = client.submit_order(LimitOrderRequest(
        symbol="AAPL", qty=5, side="buy", time_in_force="gtc", limit_price=98,
        order_class="bracket", take_profit=TakeProfitRequest(limit_price=105),
        stop_loss=StopLossRequest(stop_price=90)))
    client.cancel_order_by_id(order.id)
    parent = client.get_order_by_id(order.id, GetOrderByIdRequest(nested=True))
    assert parent.status == OrderStatus.PENDING_CANCEL
    assert {leg.status for leg in parent.legs} == {OrderStatus.HELD}
    ctl.advance(20)
    parent = client.get_order_by_id(order.id, GetOrderByIdRequest(nested=True))
    assert {parent.status} | {leg.status for leg in parent.legs} == {OrderStatus.CANCELED}


@pytest.mark.parametrize("body", [{"mode": "later"}, {"mode": "pending"},
                                  {"mode": "pending", "seconds": -1}])
def test_bad_cancel_behavior_is_422(ctl, body):
    with pytest.raises(ControlError) as err:
        ctl.set_cancel_behavior(**body)
    assert err.value.status == 422
