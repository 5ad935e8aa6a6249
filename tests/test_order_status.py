"""The order-status vocabulary (domain/order_status.py): each predicate's members pinned,
and a status nobody knows taken the safe way round."""

from __future__ import annotations

import pytest

from trading_monitor.domain.order_status import OrderStatus

# status: may_fill, protects, settling, withdrawn, final
TABLE = {
    "new": (True, True, False, False, False),
    "accepted": (True, True, True, False, False),
    "pending_new": (True, True, True, False, False),
    "held": (True, True, False, False, False),
    "partially_filled": (True, True, False, False, False),
    "pending_replace": (True, True, True, False, False),
    "pending_cancel": (True, False, True, False, False),
    "accepted_for_bidding": (True, False, False, False, False),
    "done_for_day": (True, False, False, False, False),
    "calculated": (True, False, False, False, False),
    "stopped": (True, False, False, False, False),
    "suspended": (True, False, False, False, False),
    "pending_review": (True, False, False, False, False),
    "pending_submit": (True, False, False, False, False),
    "filled": (False, False, False, False, True),
    "replaced": (False, False, False, False, True),
    "canceled": (False, False, False, True, True),
    "expired": (False, False, False, True, True),
    "rejected": (False, False, False, True, True),
    "not_sent": (False, False, False, False, True),
    "some_status_alpaca_adds_next_year": (True, False, False, False, False),
}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_each_status_means_one_thing_everywhere(name):
    s = OrderStatus(name)
    assert (s.may_fill, s.protects, s.settling, s.withdrawn, s.final) == TABLE[name]


def test_only_the_broker_holds_an_order_at_the_broker():
    assert OrderStatus("new").at_broker and OrderStatus("suspended").at_broker
    assert not OrderStatus("pending_submit").at_broker
    assert not OrderStatus("filled").at_broker


def test_it_is_still_the_string():
    assert OrderStatus("new") == "new" and f"{OrderStatus('held')}" == "held"
