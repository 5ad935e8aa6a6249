"""The order-status vocabulary against PostgreSQL: the lists each view spells out, and a stop
row in every known status, pinned to the predicates on real rows. The predicates themselves,
and the SQL parameters the named queries take, are specified in tests/unit/test_order_status.py."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from tests.unit.test_order_status import KNOWN
from trading_monitor.domain.order_status import FINAL, PROTECTS, SQL_PARAMS, OrderStatus


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


@pytest.mark.parametrize("status", KNOWN)
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
