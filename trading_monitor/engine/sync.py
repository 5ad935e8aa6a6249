"""Bring the broker's orders and fills into our rows, in requests that do not grow with
the book.

Alpaca has no "orders changed since" filter (`after` filters on submission time, so an old
GTC stop that fills today is not in a listing of recent orders). The sync reads instead:

1. the FILL activities after the last one we stored (`page_token`, oldest first): the
   change feed for everything that traded;
2. every open order, nested, 500 a page;
3. by id, only a tracked order that left the open list without the fills to explain it.

With nothing changed that is one activities page and one open-orders page per 500 orders.
Running it twice changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from trading_monitor.broker.models import BrokerOrder, FillActivity
from trading_monitor.db.connection import Row
from trading_monitor.db.queries import Queries
from trading_monitor.domain.order_status import SQL_PARAMS
from trading_monitor.engine import hand_cancel
from trading_monitor.engine.context import Monitor
from trading_monitor.ledger.fills import FillFact

log = logging.getLogger(__name__)
QUERIES = Queries(__name__)  # queries.sql beside this module


@dataclass
class SyncResult:
    new_fills: int = 0
    orders_changed: int = 0
    looked_up: int = 0
    open_orders: dict[str, BrokerOrder] = field(default_factory=dict)
    trades: set[int] = field(default_factory=set)  # trades whose orders or fills changed


def sync_orders(m: Monitor) -> SyncResult:
    result = SyncResult()
    _read_fill_feed(m, result)
    tracked = m.db.named("tracked_orders", SQL_PARAMS)
    for listed in m.broker.list_open_orders(known={r["alpaca_order_id"] for r in tracked}):
        result.open_orders[listed.id] = listed
        for leg in listed.legs:
            result.open_orders[leg.id] = leg
    fills = _fills_by_order(m, [r["alpaca_order_id"] for r in tracked])
    for row in tracked:
        order: BrokerOrder | None = result.open_orders.get(row["alpaca_order_id"])
        if order is None:
            order = _left_the_open_list(m, row, fills.get(row["alpaca_order_id"], Decimal(0)),
                                        result)
        if order is not None:
            apply_order(m, row, order, result)
    return result


def apply_order(m: Monitor, row: Row, order: BrokerOrder, result: SyncResult) -> None:
    """The broker's view of one of our orders onto its row (the ledger also books any fill
    the order shows that the feed has not brought yet)."""
    if order.status == "canceled" and m.config.hand_cancel_grace and not m.dry_run:
        hand_cancel.notice(m, row)  # a stop of ours cancelled by someone else
    if order.status == "replaced" and order.replaced_by:
        successor_row = _successor_row(m, row, order.replaced_by)
        successor = m.broker.get_order(order.replaced_by)
        result.looked_up += 1
        if successor_row is not None and successor is not None:
            # Our own PATCH (a trailing stop): each row keeps its own order.
            _record(m, row, order, result)
            _record(m, successor_row, successor, result)
            return
        # Replaced by hand, or by the broker itself (a corporate action's adjustment comes
        # back as a new order): the row follows its order to the end of the chain.
        order = _last_of_chain(m, successor, result) if successor else order
    _record(m, row, order, result)


MAX_HOPS = 10  # a chain longer than this is read further on the next cycle


def _last_of_chain(m: Monitor, order: BrokerOrder, result: SyncResult) -> BrokerOrder:
    for _ in range(MAX_HOPS):
        if order.status != "replaced" or not order.replaced_by:
            return order
        successor = m.broker.get_order(order.replaced_by)
        result.looked_up += 1
        if successor is None:
            return order
        order = successor
    return order


def _successor_row(m: Monitor, row: Row, successor_id: str) -> Row | None:
    rows = m.db.execute_query(QUERIES["successor_row"], [successor_id, row["id"]])
    return rows[0] if rows and rows[0]["id"] != row["id"] else None


def _record(m: Monitor, row: Row, order: BrokerOrder, result: SyncResult) -> None:
    if not _changed(row, order):
        return
    result.orders_changed += 1
    result.trades.add(int(row["trade_journal_id"]))
    if m.dry_run:
        m.would(f"record {row['client_order_id']} as {order.status} "
                f"(filled {order.filled_qty})")
        m.pending_orders[int(row["id"])] = {
            **row, "order_status": order.status, "filled_qty": order.filled_qty,
            "filled_avg_price": order.filled_avg_price, "alpaca_order_id": order.id}
        return
    if m.ledger.record_order(row, order):
        result.new_fills += 1


def _changed(row: Row, order: BrokerOrder) -> bool:
    return (row["order_status"] != order.status or row["filled_qty"] != order.filled_qty
            or row["alpaca_order_id"] != order.id)


def _left_the_open_list(m: Monitor, row: Row, filled: Decimal, result: SyncResult
                        ) -> BrokerOrder | None:
    """Gone from the open orders: final. Read it, unless the fills already say filled."""
    if filled >= row["qty"]:
        result.orders_changed += 1
        result.trades.add(int(row["trade_journal_id"]))
        if m.dry_run:
            m.would(f"record {row['client_order_id']} as filled (per the fill feed)")
        else:
            m.ledger.record_filled_from_fills(row)
        return None
    result.looked_up += 1
    return m.broker.get_order(row["alpaca_order_id"])


def _read_fill_feed(m: Monitor, result: SyncResult) -> None:
    cursor = _system_value(m, "fill_cursor")
    since = None
    if cursor is None:  # the first sync: from our first order, in the broker's own time
        first = m.db.execute_query(QUERIES["first_submitted_at"])
        # `after` is exclusive and a fill can share its order's timestamp: start a minute early.
        since = (first[0]["first"] if first and first[0]["first"] else m.now()) - timedelta(
            minutes=1)
    activities = m.broker.fill_activities_after(cursor, since=since)
    if not activities:
        return
    rows = {r["alpaca_order_id"]: r for r in m.db.named(
        "orders_by_alpaca_ids", {"ids": list({a.order_id for a in activities})})}
    for activity in activities:
        fact = _fact(activity)
        if m.dry_run:
            m.would(f"store fill {fact.qty} {fact.symbol} @ {fact.price} ({activity.id})")
            row = rows.get(activity.order_id)
            m.pending_fills.append({
                "alpaca_order_id": fact.alpaca_order_id, "cum_qty": fact.cum_qty,
                "qty": fact.qty, "price": fact.price, "filled_at": fact.filled_at, "fee": None,
                "trade_journal_id": row["trade_journal_id"] if row else None})
            continue
        if m.ledger.record_fill(fact, rows.get(activity.order_id)):
            result.new_fills += 1
        row = rows.get(activity.order_id)
        if row is not None:
            result.trades.add(int(row["trade_journal_id"]))
    if not m.dry_run:
        m.ledger.remember_fill_cursor(activities[-1].id)


def _fact(a: FillActivity) -> FillFact:
    return FillFact(alpaca_order_id=a.order_id, symbol=a.symbol, side=a.side, qty=a.qty,
                    cum_qty=a.cum_qty if a.cum_qty is not None else a.qty, price=a.price,
                    filled_at=a.transaction_time, source="activity", activity_id=a.id,
                    leaves_qty=a.leaves_qty)


def _fills_by_order(m: Monitor, ids: list[str]) -> dict[str, Decimal]:
    if not ids:
        return {}
    return {r["alpaca_order_id"]: r["qty"] for r in m.db.named("fills_of_orders", {"ids": ids})}


def _system_value(m: Monitor, key: str) -> str | None:
    rows = m.db.named("system_value", {"key": key})
    return str(rows[0]["value"]) if rows and rows[0]["value"] else None
