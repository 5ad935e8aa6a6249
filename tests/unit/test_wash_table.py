"""Alpaca's wash-trade table (domain/wash_trade.py), row by row."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trading_monitor.domain.wash_trade import OrderShape, conflicts, is_wash_refusal, refused_by

D = Decimal


def shape(side, order_type, order_class="simple", limit=None):
    return OrderShape(side, order_type, order_class, D(limit) if limit else None)


@pytest.mark.parametrize(("new", "old", "refused"), [
    # market and plain stop orders conflict with any opposite open order
    (shape("sell", "stop"), shape("buy", "limit", limit="175"), True),
    (shape("sell", "market"), shape("buy", "limit", limit="175"), True),
    (shape("sell", "stop"), shape("buy", "stop"), True),
    (shape("buy", "market"), shape("sell", "stop"), True),
    (shape("buy", "limit", limit="170"), shape("sell", "stop"), True),
    (shape("buy", "limit", limit="170"), shape("sell", "market"), True),
    # two limit-priced orders conflict only if the buy's limit is at or above the sell's
    (shape("sell", "limit", limit="190"), shape("buy", "limit", limit="175"), False),
    (shape("sell", "limit", limit="175"), shape("buy", "limit", limit="175"), True),
    (shape("sell", "limit", limit="170"), shape("buy", "limit", limit="175"), True),
    (shape("buy", "limit", limit="176"), shape("sell", "stop_limit", limit="175"), True),
    (shape("buy", "stop_limit", limit="174"), shape("sell", "limit", limit="175"), False),
    # complex orders and trailing stops are exempt, new or open
    (shape("sell", "limit", "oco", "190"), shape("buy", "limit", limit="175"), False),
    (shape("sell", "stop", "oco"), shape("buy", "limit", limit="175"), False),
    (shape("buy", "limit", "bracket", "181"), shape("sell", "stop"), False),
    (shape("buy", "limit", "oto", "181"), shape("sell", "market"), False),
    (shape("sell", "trailing_stop"), shape("buy", "limit", limit="175"), False),
    (shape("sell", "stop"), shape("buy", "limit", "bracket", "175"), False),
    (shape("sell", "market"), shape("buy", "trailing_stop"), False),
    # the same side never conflicts
    (shape("sell", "stop"), shape("sell", "limit", limit="190"), False),
    (shape("buy", "market"), shape("buy", "limit", limit="175"), False),
])
def test_the_table(new, old, refused):
    assert conflicts(new, old) is refused


def test_refused_by_names_the_conflicting_orders():
    entry = OrderShape("buy", "limit", limit_price=D(175), name="tm-x-d1-entry")
    other = OrderShape("sell", "limit", "oco", D(190), name="tm-x-d2-take_profit")
    assert refused_by(shape("sell", "stop"), [entry, other]) == [entry]
    assert refused_by(shape("sell", "stop", "oco"), [entry, other]) == []


def test_a_403_is_told_apart_by_its_message_never_its_code():
    assert is_wash_refusal("potential wash trade detected. use complex orders")
    assert not is_wash_refusal('insufficient qty available for order (requested: 10, '
                               'available: 0)')
