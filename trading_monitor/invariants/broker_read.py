"""Reading the broker for the checker, after the books (so anything the books hold has
happened at the broker by the time it is read).

Requests: the open orders (given our tracked ids, up to 1,000 in two), the positions (one),
every order submitted since our first one, any status, nested (one per 500), and one
look-up for each row the listing cannot vouch for: an entry intent of ours not known to be
sent, or a row whose broker id is not listed (normally none; at most LOOKUP_CAP, the rest
reported as not verified). An entry of ours at the broker that the snapshot does not know
is looked for again in the database: it may have been written since.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from trading_monitor.broker.base import Broker
from trading_monitor.broker.models import BrokerOrder
from trading_monitor.db.connection import Row, TradingDB
from trading_monitor.domain.lifecycle import PENDING_SUBMIT
from trading_monitor.domain.order_status import OrderStatus
from trading_monitor.invariants.broker_view import (
    BrokerView,
    entry_pattern,
    flatten,
    vouched_by_successor,
)
from trading_monitor.invariants.model import Books
from trading_monitor.invariants.read import rows_by_client_id

LOOKUP_CAP = 50
# Alpaca's `after` is exclusive and compares submission times: start a minute early.
LISTING_MARGIN = timedelta(minutes=1)


def first_order_time(books: Books) -> datetime | None:
    times = [o["submitted_at"] for o in books.orders if o["submitted_at"] is not None]
    return min(times) - LISTING_MARGIN if times else None


def read_broker(broker: Broker, books: Books, db: TradingDB,
                since: datetime | None = None) -> BrokerView:
    start = broker.requests_sent
    tracked = {o["alpaca_order_id"] for o in books.orders if o["alpaca_order_id"]
               and OrderStatus(o["order_status"]).may_fill}
    open_orders = broker.list_open_orders(known=tracked)
    positions = broker.get_positions()
    since = since or first_order_time(books)
    orders = broker.list_orders_submitted_since(since) if since is not None else []
    listed = flatten(orders)
    looked_up: dict[str, BrokerOrder | None] = {}
    unverified: list[str] = []
    for row, by_client in _to_look_up(books, listed, since):
        if len(looked_up) >= LOOKUP_CAP:
            unverified.append(row["client_order_id"])
        elif by_client:
            looked_up[row["client_order_id"]] = broker.get_order_by_client_id(
                row["client_order_id"])
        else:
            looked_up[row["client_order_id"]] = broker.get_order(row["alpaca_order_id"])
    view = BrokerView(open_orders, positions, orders, since, looked_up=looked_up,
                      unverified=unverified)
    pattern = entry_pattern(books.installation)
    unknown = sorted(o.client_order_id for o in view.order_by_id.values()
                     if pattern.match(o.client_order_id)
                     and o.client_order_id not in books.order_by_client)
    view.late_rows = rows_by_client_id(db, unknown)
    view.requests = broker.requests_sent - start
    return view


def _to_look_up(books: Books, listed: dict[str, BrokerOrder], since: datetime | None
                ) -> list[tuple[Row, bool]]:
    """Rows the listing cannot vouch for, and whether to look them up by client order id:
    an entry intent not known to be sent (did it reach the broker?), and a row with a broker
    id the listing lacks (sent before it started, or missing from it)."""
    clients = {o.client_order_id for o in listed.values()}
    ids = set(listed)
    found = []
    for o in books.orders:
        if o["order_role"] == "ENTRY" and o["order_status"] == PENDING_SUBMIT \
                and o["client_order_id"] not in clients:
            found.append((o, True))
        elif o["alpaca_order_id"] and o["alpaca_order_id"] not in listed \
                and not (since is not None and o["submitted_at"] is not None
                         and o["submitted_at"] < since) \
                and not vouched_by_successor(books, ids, o):
            found.append((o, False))
    return found
