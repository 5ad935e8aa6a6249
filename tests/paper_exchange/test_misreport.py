"""The misreport switch: order reads say `canceled` for a `pending_cancel` order that still
lives (and can fill); the stream and the control API tell the truth; a reset turns it off."""

from __future__ import annotations

from decimal import Decimal

import pytest
from alpaca.trading.enums import OrderStatus, QueryOrderStatus
from alpaca.trading.requests import GetOrdersRequest, LimitOrderRequest

from tests.paper_exchange.conftest import D, wait_until
from trading_monitor.paper_exchange import ControlError


@pytest.fixture(autouse=True)
def _price(ctl):  # type: ignore[no-untyped-def]
    ctl.set_price("AAPL", Decimal("100"))


def _pending_cancel(client, ctl):  # type: ignore[no-untyped-def]
    ctl.set_cancel_behavior("pending", seconds=30)
    order = client.submit_order(LimitOrderRequest(
        symbol="AAPL", qty=10, side="buy", time_in_force="gtc", limit_price=99,
        client_order_id="lied-about"))
    client.cancel_order_by_id(order.id)
    return order


def _listed(client, status):  # type: ignore[no-untyped-def]
    return {o.client_order_id for o in client.get_orders(GetOrdersRequest(status=status))}


def test_reads_report_a_pending_cancel_as_canceled_while_it_lives(client, ctl, stream):
    order = _pending_cancel(client, ctl)
    assert ctl.set_misreport(pending_cancel_as_canceled=True) == {
        "pending_cancel_as_canceled": True}
    read = client.get_order_by_id(order.id)
    assert read.status == OrderStatus.CANCELED and read.canceled_at is not None
    assert client.get_order_by_client_id("lied-about").status == OrderStatus.CANCELED
    assert "lied-about" in _listed(client, QueryOrderStatus.CLOSED)
    assert "lied-about" not in _listed(client, QueryOrderStatus.OPEN)
    # The truth: the control API and the stream.
    [truth] = [o for o in ctl.orders() if o["id"] == str(order.id)]
    assert truth["status"] == "pending_cancel"
    wait_until(lambda: len(stream.updates) >= 2, what="two events")
    assert [u.event for u in stream.updates] == ["new", "pending_cancel"]
    # The order still lives: it fills, and the reads say so.
    ctl.set_price("AAPL", Decimal("98"))
    assert client.get_order_by_id(order.id).status == OrderStatus.FILLED
    assert D(client.get_open_position("AAPL").qty) == 10


def test_off_by_default_and_after_a_reset(client, ctl):
    assert ctl._call("GET", "/control/misreport") == {"pending_cancel_as_canceled": False}
    order = _pending_cancel(client, ctl)
    assert client.get_order_by_id(order.id).status == OrderStatus.PENDING_CANCEL
    ctl.set_misreport(pending_cancel_as_canceled=True)
    ctl.reset()
    assert ctl._call("GET", "/control/misreport") == {"pending_cancel_as_canceled": False}


def test_a_bad_body_is_refused(ctl):
    with pytest.raises(ControlError):
        ctl._call("POST", "/control/misreport", {"pending_cancel_as_canceled": "yes"})
