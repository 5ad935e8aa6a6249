"""The order-status vocabulary (domain/order_status.py): each predicate's members pinned,
and a status nobody knows taken the safe way round."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from trading_monitor.domain.lifecycle import OrderRole, Purpose, TradeStatus
from trading_monitor.domain.order_status import OrderStatus
from trading_monitor.domain.reconcile import (
    HeldPosition,
    IssueKind,
    OpenOrder,
    OurTrade,
    reconcile,
)
from trading_monitor.domain.trade_state import (
    Fill,
    OrderView,
    PlaceProtection,
    ProtectionRules,
    TradeState,
    decide,
)

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


@pytest.mark.parametrize("stop_status", ["suspended", "stopped", "done_for_day", "calculated",
                                         "new", "held", "some_status_alpaca_adds_next_year"])
def test_the_order_monitor_and_reconciliation_agree_on_a_stop(stop_status):
    """Where one counted a suspended stop as protection and the other did not, the position
    was reported unprotected every cycle and nothing ever replaced the stop."""
    now = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)
    ten = Decimal(10)
    stop = OrderView(2, "tm-x-d1-stop_loss", OrderRole.STOP_LOSS, Purpose.PROTECTION,
                     stop_status, ten, Decimal(0), "simple", "gtc", stop_price=Decimal(170),
                     alpaca_order_id="b2")
    state = TradeState(1, TradeStatus.POSITION, "buy", "SWING", "staged", Decimal(175),
                       Decimal(170), None, now, now, None, (stop,),
                       (Fill("b1", OrderRole.ENTRY, Purpose.ENTRY, ten, Decimal(175), now),),
                       booked=(ten, Decimal(175)))
    replaced = any(isinstance(a, PlaceProtection) for a in decide(state, now, ProtectionRules()))
    issues = reconcile([HeldPosition("AAPL", ten, Decimal(175))],
                       [OpenOrder("AAPL", "sell", "stop", ten, Decimal(0), stop_status,
                                  "tm-x-d1-stop_loss")],
                       [OurTrade(1, "AAPL", ten, "POSITION")], "x")
    unprotected = any(i.kind is IssueKind.UNPROTECTED for i in issues)
    assert replaced == unprotected == (not OrderStatus(stop_status).protects)
