"""The order-status vocabulary (domain/order_status.py): each predicate's members pinned,
and a status nobody knows taken the safe way round."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from trading_monitor.domain.lifecycle import OrderRole, Purpose, TradeStatus
from trading_monitor.domain.order_status import FINAL, PROTECTS, SQL_PARAMS, OrderStatus
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


# -- SQL asks the same questions -----------------------------------------------------------

def _view_lists(db, view: str) -> list[tuple[str, set[str]]]:
    """Each `order_status` list in the view as PostgreSQL holds it: (`= ANY` for IN, `<> ALL`
    for NOT IN, the statuses)."""
    [row] = db.execute_query("SELECT pg_get_viewdef(%s::regclass, true) AS sql", [view])
    found = re.findall(r"order_status\)?(?:::text)?\s*(=\s*ANY|<>\s*ALL)\s*\(\s*\(?ARRAY"
                       r"\[(.*?)\]", row["sql"], re.S)
    return [(" ".join(op.split()), set(re.findall(r"'([a-z_]+)'", items))) for op, items in found]


def test_each_view_spells_out_its_predicates_members(db):
    assert _view_lists(db, "v_open_positions") == [("= ANY", set(PROTECTS))]  # protects
    assert _view_lists(db, "v_trade_lifecycle") == [("<> ALL", set(FINAL))]  # may_fill


SQL_FILES = ["trading_monitor/db/queries.sql", "trading_monitor/report/queries.sql"]


@pytest.mark.parametrize("path", SQL_FILES)
def test_named_queries_take_the_vocabulary_as_parameters(path):
    text = (Path(__file__).parent.parent / path).read_text()
    assert not re.search(r"order_status\s+(NOT\s+)?IN\s*\(", text, re.I)
    used = set(re.findall(r"order_status\s*(?:=\s*ANY|<>\s*ALL)\(%\((\w+)\)s\)", text))
    assert used and used <= set(SQL_PARAMS)


def test_the_sql_parameters_are_the_predicates():
    for name in [*TABLE, "suspended", "pending_submit"]:
        s = OrderStatus(name)
        assert (name not in SQL_PARAMS["final"]) == s.may_fill
        assert (name not in SQL_PARAMS["not_at_broker"]) == s.at_broker
        assert (name in SQL_PARAMS["protects"]) == s.protects


@pytest.mark.parametrize("status", sorted(set(TABLE) - {"some_status_alpaca_adds_next_year"}))
def test_a_stop_shows_as_live_in_the_view_only_when_it_protects(db, status):
    """v_open_positions' live stop, and the named query `tracked_orders`, on a real row."""
    jid = db.insert("trade_journal", {"symbol": "AAPL", "side": "buy", "status": "POSITION",
                                      "trade_style": "SWING", "planned_qty": Decimal(1),
                                      "protection_mode": "staged"})
    db.insert("position_tracking", {"trade_journal_id": jid, "symbol": "AAPL", "side": "long",
                                    "qty": Decimal(1), "avg_entry_price": Decimal(100)})
    db.insert("order_execution", {
        "trade_journal_id": jid, "symbol": "AAPL", "side": "sell", "qty": Decimal(1),
        "order_role": "STOP_LOSS", "order_type": "stop", "order_class": "simple",
        "time_in_force": "gtc", "stop_price": Decimal(95), "order_status": status,
        "alpaca_order_id": "b-1", "client_order_id": "tm-x-t1-stop_loss", "purpose": "PROTECTION"})
    [view] = db.execute_query("SELECT stop_order_status FROM v_open_positions "
                              "WHERE trade_journal_id = %s", [jid])
    assert (view["stop_order_status"] == status) == OrderStatus(status).protects
    tracked = [r["order_status"] for r in db.named("tracked_orders", SQL_PARAMS)]
    assert (status in tracked) == OrderStatus(status).may_fill
