"""The order book and ledger the engine works on, and the primitives every part of it uses.

Kept apart from the engine so that the pre-trade checks (risk.py) and the cancel/replace
desk (desk.py) can take a `Book` without importing the engine.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from trading_monitor.paper_exchange.account import Ledger
from trading_monitor.paper_exchange.events import Activity, Event, Ids
from trading_monitor.paper_exchange.market import Market
from trading_monitor.paper_exchange.orders import Order, invalid, not_found
from trading_monitor.paper_exchange.rules import Rules


class Book:
    def __init__(self, ids: Ids, market: Market, asset_ids: dict[str, str],
                 halted: set[str]) -> None:
        self.ids = ids
        self.halted = halted
        self.market = market
        self.asset_ids = asset_ids
        self.orders: dict[str, Order] = {}
        # Orders that may still change; closed orders never reopen, so this only shrinks.
        self.working: dict[str, Order] = {}
        self.client_ids: set[str] = set()
        self.ledger = Ledger()
        self.events: list[Event] = []
        self.activities: list[Activity] = []
        self.partial_by_symbol: dict[str, Decimal] = {}
        self.partial_by_client_id: dict[str, Decimal] = {}
        # Keys (a symbol, or a client order id) whose partial fill's remainder rests until
        # the rule is cleared: a realtime clock's ticks do not complete it.
        self.partial_rest: set[str] = set()
        self.rules = Rules()
        # Trading halts (halts.py) by symbol: nothing of theirs trades until the reopen.
        self.paused: dict[str, Any] = {}
        # Non-trade activities (SPLIT, NC, CIL ...): when, and Alpaca's JSON; in id order.
        self.nta: list[tuple[datetime, dict[str, Any]]] = []

    def get(self, order_id: str) -> Order:
        order = self.orders.get(order_id)
        if order is None:
            raise not_found(f"order not found for {order_id}")
        return order

    def by_client_id(self, client_order_id: str) -> Order:
        for order in reversed(self.orders.values()):
            if order.client_order_id == client_order_id:
                return order
        raise not_found(f"order not found for {client_order_id}")

    def emit(self, name: str, order: Order, at: datetime, **fill: Any) -> None:
        self.events.append(Event(name, replace(order, legs=list(order.legs)), at, **fill))

    def new_client_id(self, wanted: str | None) -> str:
        client_id = wanted or self.ids.uuid()
        if client_id in self.client_ids:
            raise invalid("client_order_id must be unique")
        self.client_ids.add(client_id)
        return client_id

    def add(self, order: Order) -> Order:
        self.orders[order.id] = order
        self.working[order.id] = order
        return order

    def prune(self) -> list[Order]:
        """The orders that may still change (closed ones are dropped from the working set)."""
        for order_id in [i for i, o in self.working.items() if not o.is_open]:
            del self.working[order_id]
        return list(self.working.values())

    def close(self, order: Order, status: str, now: datetime) -> bool:
        """Move an open order to a final status and tell the stream; False if already closed."""
        if not order.is_open:
            return False
        order.status = status
        order.updated_at = now
        if status == "canceled":
            order.canceled_at = now
        elif status == "expired":
            order.expired_at = now
        elif status == "rejected":
            order.failed_at = now
        self.emit(status, order, now)
        return True

    def activate(self, leg: Order, now: datetime) -> None:
        leg.status = "new"
        leg.updated_at = now
        self.emit("new", leg, now)

    def group(self, order: Order) -> list[Order]:
        """The exits that protect one position together (one filling cancels the others)."""
        head = self.orders.get(order.parent_id or "") or order
        members = [self.orders[i] for i in head.legs]
        if head.order_class == "oco":
            members.insert(0, head)
        return members if order in members else [order]

    def opening(self, symbol: str, side: str) -> bool:
        """Whether an order on this side opens (or adds to) a position rather than closing one."""
        pos = self.ledger.qty(symbol)
        return not ((side == "sell" and pos > 0) or (side == "buy" and pos < 0))
