"""Changes a client asks for after submission: cancel, cancel all, replace; and day expiry."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from trading_monitor.paper_exchange import risk
from trading_monitor.paper_exchange.book import Book
from trading_monitor.paper_exchange.orders import Order, unprocessable


class Desk(Book):
    def cancel(self, order_id: str, now: datetime) -> list[Order]:
        order = self.get(order_id)
        if not order.is_open:
            raise unprocessable(f'order is already in "{order.status}" state')
        if order.parent_id is not None or order.order_class == "oco":
            # An exit leg never stands alone: cancelling one cancels the group.
            group = self.group(order)
            parent = self.orders.get(order.parent_id or "")
            if parent is not None and parent.is_open:
                group.append(parent)
            return [o for o in group if self.close(o, "canceled", now)]
        done = [order] if self.close(order, "canceled", now) else []
        for leg in (self.orders[i] for i in order.legs):
            if order.filled_qty > 0 and leg.status == "held":
                leg.qty = order.filled_qty
                self.activate(leg, now)
            elif self.close(leg, "canceled", now):
                done.append(leg)
        return done

    def cancel_all(self, now: datetime) -> list[Order]:
        done: list[Order] = []
        for order in self.prune():
            if order.is_open:
                done.extend(self.cancel(order.id, now))
        return done

    def expire(self, now: datetime) -> None:
        for order in self.prune():
            if order.is_open and order.expires_at is not None and order.expires_at <= now:
                self.close(order, "expired", now)

    def replace_order(self, order_id: str, changes: dict[str, Any], now: datetime,
                      expires_at: datetime | None) -> Order:
        old = self.get(order_id)
        if not old.is_open:
            raise unprocessable(f'order is already in "{old.status}" state')
        if old.filled_qty > 0:
            raise unprocessable("cannot replace a partially filled order")
        fields = risk.replacement_fields(old, changes)
        client_id = self.new_client_id(fields.pop("client_order_id", None))
        tif = fields.get("time_in_force", old.time_in_force)
        fields["expires_at"] = expires_at if tif == "day" else None
        new = replace(old, id=self.ids.uuid(), client_order_id=client_id, created_at=now,
                      updated_at=now, replaces=old.id, replaced_by=None, legs=list(old.legs),
                      status="held" if old.status == "held" else "new", **fields)
        if new.type == "trailing_stop":
            new.hwm = self.market.price(new.symbol)
            new.stop_price = risk.trail_stop(new)
        self.add(new)
        for leg_id in new.legs:
            self.orders[leg_id].parent_id = new.id
        parent = self.orders.get(old.parent_id or "")
        if parent is not None:
            parent.legs = [new.id if i == old.id else i for i in parent.legs]
        old.status, old.replaced_at, old.replaced_by, old.updated_at = "replaced", now, new.id, now
        self.emit("replaced", old, now)
        self.emit("new", new, now)
        return new
