"""Changes after submission: cancel (with its configurable behaviour), replace, timers."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from trading_monitor.paper_exchange import clock, risk, rules, wash
from trading_monitor.paper_exchange.book import Book
from trading_monitor.paper_exchange.events import Ids
from trading_monitor.paper_exchange.market import Market
from trading_monitor.paper_exchange.orders import ApiError, Order, unprocessable

CANCEL_MODES = ("immediate", "pending", "refuse")
# How a PATCH is answered: normally; refused (422); or 200 and the replacement rejected
# right after, the old order staying live (R14: "a 200 doesn't guarantee it").
REPLACE_MODES = ("accept", "refuse", "reject_after_accept")
# Alpaca accepts no replace while one of these is in flight (trading-api.json).
NOT_REPLACEABLE = ("pending_cancel", "pending_replace", "pending_new", "accepted")
REJECTABLE = ("new", "accepted", "pending_new", "partially_filled", "pending_cancel")


@dataclass(frozen=True)
class CancelRule:
    mode: str = "immediate"
    seconds: float = 0.0

    def describe(self) -> dict[str, Any]:
        return {"mode": self.mode, "seconds": self.seconds if self.mode == "pending" else None}


class Desk(Book):
    def __init__(self, ids: Ids, market: Market, asset_ids: dict[str, str],
                 halted: set[str]) -> None:
        super().__init__(ids, market, asset_ids, halted)
        self.cancel_rule = CancelRule()
        self.cancel_rules: dict[str, CancelRule] = {}  # by client_order_id
        # How often a cancel behaviour or a rejection was played (GET /control/fault_counts).
        self.played: Counter[str] = Counter()
        self.replace_modes: dict[str, str] = {}  # by client_order_id, "*" for every order
        self.doomed: list[tuple[Order, Order]] = []  # (old, replacement) to reject next

    def set_replace_behavior(self, mode: str, client_order_id: str | None) -> dict[str, str]:
        if mode not in REPLACE_MODES:
            raise ValueError(f"mode must be one of {REPLACE_MODES}")
        if client_order_id is None and mode == "accept":
            self.replace_modes.clear()
        else:
            self.replace_modes[client_order_id or "*"] = mode
        return dict(self.replace_modes)

    # -- cancel behaviour ----------------------------------------------------------------------

    def set_cancel_behavior(self, mode: str, seconds: float | None,
                            client_order_id: str | None) -> None:
        if mode not in CANCEL_MODES:
            raise ValueError(f"mode must be one of {CANCEL_MODES}")
        if mode == "pending" and (seconds is None or seconds < 0):
            raise ValueError("pending needs seconds >= 0")
        rule = CancelRule(mode, float(seconds or 0) if mode == "pending" else 0.0)
        if client_order_id:
            self.cancel_rules[client_order_id] = rule
        elif mode == "immediate":
            self.cancel_rule, self.cancel_rules = rule, {}
        else:
            self.cancel_rule = rule

    def cancel_behavior(self) -> dict[str, Any]:
        return {**self.cancel_rule.describe(),
                "orders": {c: r.describe() for c, r in self.cancel_rules.items()}}

    # -- cancel ---------------------------------------------------------------------------------

    def cancel(self, order_id: str, now: datetime) -> list[Order]:
        """DELETE /v2/orders/{id}: the orders whose status changed (canceled or pending)."""
        order = self.get(order_id)
        if not order.is_open or order.status == "pending_cancel":
            raise unprocessable(f'order is already in "{order.status}" state')
        rule = self.cancel_rules.get(order.client_order_id, self.cancel_rule)
        if rule.mode == "refuse":
            self.played["cancel_refused"] += 1
            self.emit("order_cancel_rejected", order, now)
            raise unprocessable("order is not cancelable")
        if rule.mode == "pending":
            self.played["cancel_pending"] += 1
            order.status, order.updated_at = "pending_cancel", now
            order.cancel_due = now + timedelta(seconds=rule.seconds)
            self.emit("pending_cancel", order, now)
            return [order]
        return self.cancel_now(order, now)

    def cancel_now(self, order: Order, now: datetime) -> list[Order]:
        if order.parent_id is not None or order.order_class == "oco":
            # An exit leg never stands alone: cancelling one cancels the group.
            group = self.group(order)
            parent = self.orders.get(order.parent_id or "")
            if parent is not None and parent.is_open:
                group.append(parent)
            return [o for o in group if self.close(o, "canceled", now)]
        # An entry cancelled partly filled takes its exits with it (Alpaca's behaviour here is
        # unconfirmed; its one rule is that cancelling any order of a group cancels the rest).
        return [o for o in [order, *(self.orders[i] for i in order.legs)]
                if self.close(o, "canceled", now)]

    def cancel_all(self, now: datetime) -> list[tuple[Order, ApiError | None]]:
        """DELETE /v2/orders: each order touched, with the refusal if its cancel was refused."""
        done: list[tuple[Order, ApiError | None]] = []
        for order in self.prune():
            if not order.is_open or order.status == "pending_cancel":
                continue
            try:
                done.extend((o, None) for o in self.cancel(order.id, now))
            except ApiError as err:
                done.append((order, err))
        return done

    # -- rejection after acceptance -------------------------------------------------------------

    def reject(self, client_order_id: str, now: datetime) -> list[Order]:
        """Reject an accepted, unfilled order (and its legs), as Alpaca may after accepting."""
        order = self.by_client_id(client_order_id)
        if order.parent_id is not None:
            raise unprocessable("an exit leg is rejected with its parent order")
        if order.status not in REJECTABLE or order.filled_qty > 0:
            raise unprocessable(f'order in "{order.status}" state with filled_qty '
                                f"{order.filled_qty} cannot be rejected")
        self.played["rejected_after_accept"] += 1
        return [o for o in [order, *(self.orders[i] for i in order.legs)]
                if self.close(o, "rejected", now)]

    # -- timers ---------------------------------------------------------------------------------

    def due_times(self, after: datetime, until: datetime) -> list[datetime]:
        """Moments in (after, until] at which a pending cancel goes through."""
        return sorted(o.cancel_due for o in self.working.values()
                      if o.status == "pending_cancel" and o.cancel_due is not None
                      and after < o.cancel_due <= until)

    def run_timers(self, now: datetime) -> None:
        """Due pending cancels go through; orders past `expires_at` end: day orders `expired`,
        GTC orders `canceled` (the aged-order policy's auto cancel)."""
        doomed, self.doomed = self.doomed, []
        for old, new in doomed:
            self.close(new, "rejected", now)
            self.emit("order_replace_rejected", old, now)
        for order in self.prune():
            if (order.status == "pending_cancel" and order.cancel_due is not None
                    and order.cancel_due <= now):
                self.cancel_now(order, now)
        for order in self.prune():
            if order.is_open and order.expires_at is not None and order.expires_at <= now:
                self.close(order, "expired" if order.time_in_force == "day" else "canceled",
                           now)

    # -- replace --------------------------------------------------------------------------------

    def replace_order(self, order_id: str, changes: dict[str, Any], now: datetime) -> Order:
        old = self.get(order_id)
        try:
            return self._replace(old, changes, now)
        except ApiError:
            # The stream tells the refusal too, as Alpaca's order_replace_rejected does.
            self.emit("order_replace_rejected", old, now)
            raise

    def _replace(self, old: Order, changes: dict[str, Any], now: datetime) -> Order:
        if not old.is_open or old.status in NOT_REPLACEABLE:
            raise unprocessable(f'order is already in "{old.status}" state')
        if old.filled_qty > 0:
            raise unprocessable("cannot replace a partially filled order")
        mode = self.replace_modes.get(old.client_order_id, self.replace_modes.get("*", "accept"))
        if mode == "refuse":
            self.played["replace_refused"] += 1
            raise unprocessable("order is not replaceable")
        fields = risk.replacement_fields(old, changes)
        if old.converted_from == "stop" and "stop_price" in fields and "limit_price" not in fields:
            # A buy stop held as a stop-limit keeps its markup over the new stop.
            fields["limit_price"] = rules.buy_stop_limit_price(fields["stop_price"])
        wanted_client_id = fields.pop("client_order_id", None)
        tif = fields.get("time_in_force", old.time_in_force)
        # A new order: a fresh expiry (for GTC a fresh 90 days; unconfirmed at Alpaca).
        fields["expires_at"] = clock.expiry(tif, now)
        new = replace(old, replaces=old.id, replaced_by=None, legs=list(old.legs),
                      created_at=now, updated_at=now,
                      status="held" if old.status == "held" else "new", **fields)
        wash.check(self, new.symbol, new, exclude=old)
        if old.parent_id is None:
            # The same 403s as a new order (POST and PATCH alike), not counting the old one.
            risk.check_funds(self, new.symbol, new.side, new.qty,
                             risk.estimate(new, self.market.price(new.symbol)), exclude=old)
        new.client_order_id = self.new_client_id(wanted_client_id)
        new.id = self.ids.uuid()
        if "stop_price" in fields:
            new.triggered = False  # a new stop price has to trade all over again
        if new.type == "trailing_stop":
            new.hwm = self.market.price(new.symbol)
            new.stop_price = risk.trail_stop(new)
        self.add(new)
        if mode == "reject_after_accept":
            # Answered as accepted; rejected at the next settle (run_timers), the old order
            # untouched and live all along.
            self.played["replace_rejected_after_accept"] += 1
            new.legs = []
            self.doomed.append((old, new))
            return new
        for leg_id in new.legs:
            self.orders[leg_id].parent_id = new.id
        parent = self.orders.get(old.parent_id or "")
        if parent is not None:
            parent.legs = [new.id if i == old.id else i for i in parent.legs]
        old.status, old.replaced_at, old.replaced_by, old.updated_at = "replaced", now, new.id, now
        self.emit("replaced", old, now)
        self.emit("new" if new.status == "new" or not self.rules.held_events else "held", new,
                  now)
        return new
