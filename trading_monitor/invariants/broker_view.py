"""What the broker showed the checker, and the views of it the checks share. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from trading_monitor.broker.models import BrokerOrder, BrokerPosition
from trading_monitor.db.connection import Row
from trading_monitor.domain.reconcile import OpenOrder
from trading_monitor.invariants.model import Books


@dataclass
class BrokerView:
    open_orders: list[BrokerOrder]  # every open order, legs nested (list_open_orders)
    positions: list[BrokerPosition]
    orders: list[BrokerOrder]  # every order submitted since `since`, legs nested, any status
    since: datetime | None  # None: no order of ours has a broker time, nothing was listed
    looked_up: dict[str, BrokerOrder | None] = field(default_factory=dict)  # by our client id
    late_rows: list[Row] = field(default_factory=list)  # our rows newer than the snapshot
    unverified: list[str] = field(default_factory=list)  # client ids past the look-up cap
    requests: int = 0

    def __post_init__(self) -> None:
        self.open_by_id = flatten(self.open_orders)
        self.order_by_id = flatten(self.orders)
        for found in self.looked_up.values():
            if found is not None:
                self.order_by_id.update(flatten([found]))
        self.order_by_client = {o.client_order_id: o for o in self.order_by_id.values()}
        # Legs (of a bracket, an OTO or an OCO) get client ids of the broker's making.
        self.leg_ids = {leg.id for o in self.order_by_id.values() for leg in o.legs}


def flatten(orders: list[BrokerOrder]) -> dict[str, BrokerOrder]:
    """Orders and their nested legs, by broker id."""
    found: dict[str, BrokerOrder] = {}
    stack = list(orders)
    while stack:
        order = stack.pop()
        found[order.id] = order
        stack.extend(order.legs)
    return found


def stop_views(open_orders: list[BrokerOrder]) -> dict[str, OpenOrder]:
    """The open orders, by broker id, as domain.reconcile sees them: a leg of a bracket whose
    entry has not filled completely is held by the broker and protects nothing (an OCO's
    legs are both live)."""
    orders = flatten(open_orders)
    parents = {leg.id: o for o in orders.values() for leg in o.legs}
    views = {}
    for o in orders.values():
        parent = parents.get(o.id)
        complete = parent is None or parent.side == o.side or parent.status == "filled"
        views[o.id] = OpenOrder(o.symbol, o.side, o.order_type, o.qty, o.filled_qty, o.status,
                                o.client_order_id, parent_filled=complete)
    return views


def vouched_by_successor(books: Books, listed: set[str], row: Row) -> bool:
    """A replaced leg drops out of its parent's nested legs at the broker: our row of it is
    vouched for by its successor (our next row of the trade in that role) being listed, or
    being replaced in turn by one that is."""
    while row["order_status"] == "replaced":
        later = [r for r in books.orders_by_trade.get(int(row["trade_journal_id"] or 0), [])
                 if r["order_role"] == row["order_role"] and r["id"] > row["id"]
                 and r["alpaca_order_id"]]
        if not later:
            return False
        row = later[0]
        if row["alpaca_order_id"] in listed:
            return True
    return False


def known_as(view: BrokerView, order: BrokerOrder, client_id: str) -> bool:
    """The broker order is ours under `client_id`: its own id, a leg (whose client id is the
    broker's making), or the successor of one of ours replaced without a client id of ours."""
    if order.client_order_id == client_id or order.id in view.leg_ids:
        return True
    seen: set[str] = set()
    while order.replaces and order.replaces in view.order_by_id and order.id not in seen:
        seen.add(order.id)
        order = view.order_by_id[order.replaces]
        if order.client_order_id == client_id:
            return True
    return False


def entry_pattern(installation: str) -> re.Pattern[str]:
    """Our entry client order ids: `tm-<installation>-d<decision>-entry[-<attempt>]`."""
    return re.compile(rf"^tm-{re.escape(installation)}-d(\d+)-entry(?:-\d+)?$")
