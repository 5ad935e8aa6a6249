"""The matching engine: orders, fills, brackets and the ledger. Pure: no I/O, time is passed in."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from trading_monitor.paper_exchange import clock, risk, rules, wash
from trading_monitor.paper_exchange.desk import Desk
from trading_monitor.paper_exchange.events import Activity, Ids
from trading_monitor.paper_exchange.market import Market
from trading_monitor.paper_exchange.orders import Order, OrderSpec, not_found

FILLABLE = ("new", "accepted", "partially_filled", "pending_cancel")


class Engine(Desk):
    """Submission, matching and fills on top of the book and the cancel/replace desk."""

    def __init__(self, ids: Ids, market: Market, asset_ids: dict[str, str],
                 halted: set[str]) -> None:
        super().__init__(ids, market, asset_ids, halted)
        # Bumped by the venue whenever time passes or prices change; a partial fill's remainder
        # waits for the next epoch, so an unrelated request never completes it.
        self.epoch = 0
        self._partial_epoch: dict[str, int] = {}
        self._last_activity_at: datetime | None = None

    # -- submission --------------------------------------------------------------------------

    def submit(self, spec: OrderSpec, now: datetime) -> Order:
        risk.check_symbol(self.market, self.asset_ids, self.halted, spec.symbol)
        price = self.market.price(spec.symbol)
        if spec.order_class in ("bracket", "oto", "oco"):
            risk.check_exits(spec, price)
        wash.check(self, spec.symbol, spec)  # the order as the client sent it
        converted = ("stop" if rules.convert_buy_stops(self.rules, spec)
                     else "market" if rules.collar(self.rules, self.market, spec) else None)
        qty = spec.qty
        if qty is None:
            assert spec.notional is not None
            qty = (spec.notional / price).quantize(Decimal("0.000000001"), ROUND_DOWN)
        if spec.order_class == "oco":
            risk.check_exit_only(self, spec.symbol, spec.side, qty)
        else:
            risk.check_funds(self, spec.symbol, spec.side, qty, risk.estimate(spec, price))
        client_id = self.new_client_id(spec.client_order_id)
        parent = self._make(spec, qty, client_id, now, price)
        parent.converted_from = converted
        legs = []
        if spec.order_class == "oco":
            parent.leg_role = "take_profit"
            legs.append(self._leg(parent, "stop_loss", spec, now, status="new"))
        elif spec.order_class in ("bracket", "oto"):
            exit_side = "sell" if spec.side == "buy" else "buy"
            for role, present in (("take_profit", spec.take_profit), ("stop_loss",
                                                                      spec.stop_loss_stop)):
                if present is not None:
                    legs.append(self._leg(parent, role, spec, now, status="held",
                                          side=exit_side))
        parent.legs = [leg.id for leg in legs]
        self.emit("new", parent, now)
        for leg in legs:
            if leg.status == "new" or self.rules.held_events:
                self.emit(leg.status, leg, now)
        return parent

    def _make(self, spec: OrderSpec, qty: Decimal, client_id: str, now: datetime,
              price: Decimal) -> Order:
        order = Order(
            id=self.ids.uuid(), client_order_id=client_id, symbol=spec.symbol,
            asset_id=self.asset_ids[spec.symbol], side=spec.side, type=spec.type,
            time_in_force=spec.time_in_force, qty=qty, created_at=now, updated_at=now,
            order_class=spec.order_class, limit_price=spec.limit_price,
            stop_price=spec.stop_price, trail_price=spec.trail_price,
            trail_percent=spec.trail_percent, notional=spec.notional,
            extended_hours=spec.extended_hours,
            expires_at=clock.expiry(spec.time_in_force, now),
        )
        if order.type == "trailing_stop":
            order.hwm = price
            order.stop_price = risk.trail_stop(order)
        held = self.ledger.qty(spec.symbol)
        opening = not ((spec.side == "sell" and held > 0) or (spec.side == "buy" and held < 0))
        order.position_intent = f"{spec.side}_to_{'open' if opening else 'close'}"
        return self.add(order)

    def _leg(self, parent: Order, role: str, spec: OrderSpec, now: datetime, *, status: str,
             side: str | None = None) -> Order:
        if role == "take_profit":
            kind, limit, stop = "limit", spec.take_profit, None
        else:
            stop, limit = spec.stop_loss_stop, spec.stop_loss_limit
            kind = "stop_limit" if limit is not None else "stop"
        leg = replace(
            parent, id=self.ids.uuid(), client_order_id=self.new_client_id(None),
            side=side or parent.side, type=kind, limit_price=limit, stop_price=stop,
            trail_price=None, trail_percent=None, hwm=None, status=status, legs=[],
            converted_from=None,
            parent_id=parent.id, leg_role=role, created_at=now, updated_at=now,
            position_intent=f"{side or parent.side}_to_close",
        )
        return self.add(leg)

    # -- matching ----------------------------------------------------------------------------

    def match(self, now: datetime) -> None:
        """Fill whatever the current prices allow; call only while the market is open."""
        touched: set[str] = set()
        for _ in range(20):
            progressed = False
            for order in self.prune():
                if order.id in touched or not self._may_trade(order):
                    continue
                price = risk.executable_price(order, self.market.price(order.symbol))
                if order.status == "held" and order.triggered:
                    self._release_stop(order, now)
                    progressed = True
                if price is None or order.status == "held":
                    continue
                self._execute(order, price, now)
                touched.add(order.id)
                progressed = True
            if not progressed:
                return

    def _may_trade(self, order: Order) -> bool:
        if order.symbol in self.paused:
            return False  # a trading halt: no print, so no stop triggers and nothing fills
        if order.status == "held":
            return self._armed(order)
        # A partial fill's remainder waits for the next epoch (time or a price moving), or,
        # set to rest, until its rule is cleared.
        if order.id in self._partial_epoch and self.partial_rest & {
                order.symbol, order.client_order_id}:
            return False
        return order.status in FILLABLE and self._partial_epoch.get(order.id) != self.epoch

    def _armed(self, leg: Order) -> bool:
        """A bracket's stop-loss: held after the entry filled, watching its stop price."""
        parent = self.orders.get(leg.parent_id or "")
        return (leg.leg_role == "stop_loss" and parent is not None
                and parent.order_class == "bracket" and parent.status == "filled")

    def _release_stop(self, leg: Order, now: datetime) -> None:
        # Its stop price traded: the stop-loss goes to work and the take-profit is cancelled.
        self.activate(leg, now)
        for sibling in self.group(leg):
            if sibling is not leg:
                self.close(sibling, "canceled", now)

    def _execute(self, order: Order, price: Decimal, now: datetime) -> None:
        if not risk.can_afford_fill(self, order, price):
            self.close(order, "rejected", now)
            return
        qty = self._fill_qty(order)
        execution_id = self.ids.uuid()
        position_qty = self.ledger.apply_fill(order.symbol, order.side, qty, price, now)
        paid = (order.filled_avg_price or Decimal(0)) * order.filled_qty + price * qty
        order.filled_qty += qty
        order.filled_avg_price = (paid / order.filled_qty).quantize(Decimal("0.0001"))
        if order.remaining <= 0:
            order.status = "filled"
        elif order.status != "pending_cancel":  # a pending cancel still takes the remainder
            order.status = "partially_filled"
        order.updated_at = now
        if order.status == "filled":
            order.filled_at = now
        kind = "fill" if order.remaining <= 0 else "partial_fill"
        snapshot = replace(order, legs=list(order.legs))
        self.activities.append(Activity(self.activity_id(now, execution_id), now, kind, price,
                                        qty, snapshot))
        self.emit(kind, order, now, price=price, qty=qty, position_qty=position_qty,
                  execution_id=execution_id)
        self._after_fill(order, qty, now)

    def activity_id(self, now: datetime, execution_id: str) -> str:
        """`YYYYMMDDHHMMSSmmm::uuid`, strictly increasing so that ids sort in time order even
        for fills in the same millisecond (the stamp is then moved on by a millisecond)."""
        last = self._last_activity_at
        at = now if last is None or now > last else last + timedelta(milliseconds=1)
        at = at.replace(microsecond=at.microsecond // 1000 * 1000)
        self._last_activity_at = at
        return at.strftime("%Y%m%d%H%M%S") + f"{at.microsecond // 1000:03d}::{execution_id}"

    def _fill_qty(self, order: Order) -> Decimal:
        ratio = self.partial_by_client_id.get(order.client_order_id,
                                              self.partial_by_symbol.get(order.symbol))
        if ratio is None or order.id in self._partial_epoch or order.filled_qty > 0:
            return order.remaining
        self._partial_epoch[order.id] = self.epoch
        part = (order.remaining * ratio).quantize(Decimal(1), ROUND_DOWN)
        return min(order.remaining, max(part, Decimal(1)))

    def _after_fill(self, order: Order, qty: Decimal, now: datetime) -> None:
        if order.status == "filled" and order.parent_id is None:
            for leg in (self.orders[i] for i in order.legs):
                # A bracket's stop-loss stays held until its stop price trades (see _armed).
                if leg.status == "held" and not self._armed(leg):
                    self.activate(leg, now)
        if order.parent_id is None and order.order_class != "oco":
            return
        for sibling in self.group(order):
            if sibling is order or not sibling.is_open:
                continue
            if order.status == "filled":
                self.close(sibling, "canceled", now)
            else:
                # The exits protect one position: what one leg sold the other no longer covers.
                sibling.qty -= qty

    def close_position(self, symbol: str, qty: Decimal | None, now: datetime,
                       *, manual: bool = False) -> Order:
        held = self.ledger.qty(symbol)
        if held == 0:
            raise not_found(f"position not found: {symbol}")
        if manual:
            for order in self.prune():
                if order.is_open and order.symbol == symbol:
                    self.close(order, "canceled", now)
        qty = abs(held) if qty is None else qty
        spec = OrderSpec(symbol=symbol, side="sell" if held > 0 else "buy", type="market",
                         time_in_force="day", order_class="simple", qty=qty, notional=None,
                         limit_price=None, stop_price=None, trail_price=None,
                         trail_percent=None, client_order_id=None, extended_hours=False)
        return self.submit(spec, now)
