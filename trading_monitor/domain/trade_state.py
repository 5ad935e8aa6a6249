"""One trade as the order monitor sees it: its orders and its fills, and what follows.

Pure: the state is built from rows by the caller, and `decide` returns the actions that
bring the books and the broker in line (the order monitor applies them through the
lifecycle ledger). Quantities, average prices and P&L are derived from the fills.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from trading_monitor.domain.lifecycle import (
    NOT_SENT,
    PENDING_SUBMIT,
    ExitReason,
    OrderRole,
    Purpose,
    TradeStatus,
    withdrawn_trade_status,
)
from trading_monitor.domain.order_view import OrderView
from trading_monitor.domain.pnl import closed_pnl, slippage_bps
from trading_monitor.domain.sides import Side
from trading_monitor.domain.top_up import only_protection
from trading_monitor.domain.trade_actions import (
    Action,
    CancelOrders,
    ClosePosition,
    EndEntry,
    MarkProtected,
    OpenPosition,
    PlaceProtection,
    ResizePosition,
    WithdrawEntryRest,
)
from trading_monitor.domain.wash_trade import OrderShape, conflicts

__all__ = ["Action", "CancelOrders", "ClosePosition", "EndEntry", "Fill", "MarkProtected",
           "OpenPosition", "OrderView", "PlaceProtection", "ProtectionRules", "ResizePosition",
           "TradeState", "WithdrawEntryRest", "decide"]

ZERO = Decimal(0)


@dataclass(frozen=True)
class Fill:
    order_id: str
    role: OrderRole
    purpose: Purpose
    qty: Decimal
    price: Decimal
    at: datetime
    fee: Decimal = ZERO


@dataclass(frozen=True)
class TradeState:
    journal_id: int
    status: TradeStatus
    side: str  # the entry side: buy is long
    trade_style: str
    protection_mode: str
    planned_entry: Decimal | None
    planned_stop: Decimal | None
    planned_take: Decimal | None
    first_fill_at: datetime | None
    protected_at: datetime | None
    entry: OrderView | None
    exits: tuple[OrderView, ...]  # protective and exit orders, bracket legs included
    fills: tuple[Fill, ...]
    # An EXTERNAL position we adopted: its quantity and average price, which no fill of an
    # entry of ours explains.
    adopted: tuple[Decimal, Decimal] | None = None
    booked: tuple[Decimal, Decimal] | None = None  # the position row's qty and average now

    @property
    def exit_side(self) -> str:
        return Side.of(self.side).exit.value

    def _filled(self, entry: bool) -> tuple[Decimal, Decimal | None]:
        fills = [f for f in self.fills if (f.role is OrderRole.ENTRY) == entry]
        qty = sum((f.qty for f in fills), ZERO)
        value = sum((f.qty * f.price for f in fills), ZERO)
        if entry and self.adopted is not None:
            qty, value = qty + self.adopted[0], value + self.adopted[0] * self.adopted[1]
        if qty == 0:
            return ZERO, None
        return qty, value / qty

    @property
    def entry_filled(self) -> tuple[Decimal, Decimal | None]:
        return self._filled(entry=True)

    @property
    def exit_filled(self) -> tuple[Decimal, Decimal | None]:
        return self._filled(entry=False)

    @property
    def position_qty(self) -> Decimal:
        return self.entry_filled[0] - self.exit_filled[0]

    @property
    def entry_working(self) -> bool:
        """The entry can still buy (or sell short) more shares."""
        return self.entry is not None and self.entry.live

    def covered_qty(self) -> Decimal:
        """Shares a live stop at the broker would close. A bracket's legs only protect once
        the entry filled completely: while it is partly filled Alpaca holds them."""
        total = ZERO
        for o in self.exits:
            if o.role is not OrderRole.STOP_LOSS or not o.protects:
                continue
            if o.parent_row_id is not None and self.entry is not None and \
                    o.parent_row_id == self.entry.row_id and self.entry_working:
                continue
            total += o.open_qty
        return total


@dataclass(frozen=True)
class ProtectionRules:
    partial_entry_timeout: timedelta = timedelta(minutes=2)


def decide(t: TradeState, now: datetime, rules: ProtectionRules) -> list[Action]:
    """What this trade needs now, in the order it must happen."""
    actions: list[Action] = []
    qty, avg = t.entry_filled
    if t.status is TradeStatus.PENDING:
        if qty == 0:
            return _unfilled_entry(t, now)
        assert avg is not None
        first = min((f.at for f in t.fills if f.role is OrderRole.ENTRY), default=now)
        actions.append(OpenPosition(qty, avg, first, _entry_slippage(t, avg)))
    elif t.status is not TradeStatus.POSITION:
        return _orphans(t, f"trade #{t.journal_id} is {t.status.value}")
    elif avg is not None and t.booked != (t.position_qty, avg):
        actions.append(ResizePosition(t.position_qty, avg))
    return actions + _position(t, now, rules)


def _unfilled_entry(t: TradeState, now: datetime) -> list[Action]:
    if t.entry is None or t.entry.live:
        return []
    status = {"canceled": TradeStatus.CANCELLED, "expired": TradeStatus.EXPIRED,
              "rejected": TradeStatus.REJECTED, NOT_SENT: TradeStatus.REJECTED}.get(t.entry.status)
    if status is None:
        return []
    status = withdrawn_trade_status(status, t.entry.entry_expires_at, now)
    actions: list[Action] = [EndEntry(status, f"entry {t.entry.client_order_id} "
                                              f"{t.entry.status} at the broker, nothing filled")]
    return actions + _orphans(t, "its entry ended unfilled")


def _orphans(t: TradeState, why: str) -> list[Action]:
    live = tuple(o for o in t.exits if o.at_broker)
    return [CancelOrders(live, why)] if live else []


def _position(t: TradeState, now: datetime, rules: ProtectionRules) -> list[Action]:
    qty = t.position_qty
    if qty <= 0 and not t.entry_working:
        if not any(f.role is not OrderRole.ENTRY for f in t.fills):
            return []  # no exit of ours: the position monitor's reconciliation closes it
        return [_close(t), *_orphans(t, "the position is closed")]
    if qty <= 0:
        return []
    if _exiting(t) >= qty:
        return []  # a market exit of ours is working: it is not protection to replace
    if any(o.status == PENDING_SUBMIT for o in t.exits):
        return []  # an order of ours is in flight: settled (looked up, sent) before any other
    if t.covered_qty() >= qty:
        return [] if t.protected_at else [MarkProtected()]
    if t.entry_working and t.protection_mode == "bracket" and _has_bracket_legs(t):
        # Alpaca holds a bracket's legs until the entry fills completely: bound that window.
        started = t.first_fill_at or min(
            (f.at for f in t.fills if f.role is OrderRole.ENTRY), default=now)
        if now - started >= rules.partial_entry_timeout:
            return [WithdrawEntryRest(f"bracket entry still partly filled after "
                                      f"{rules.partial_entry_timeout}; its legs do not protect "
                                      f"the {qty} shares")]
        return []
    if t.planned_stop is None:
        return []
    # GTC for a day trade too: a stop must never expire before its position (a day trade not
    # flat by the close keeps it overnight; the flatten cancels it before the exit).
    tif = "gtc"
    take = t.planned_take if t.trade_style == "SWING" else None
    if _wash_with_entry(t, take):
        # Alpaca refuses a plain stop while our own entry works on the other side (and a
        # market exit too): the entry's unfilled rest goes first, on the broker's final word.
        return [WithdrawEntryRest(f"a plain stop for the {qty} shares would be refused as a "
                                  "wash trade while the entry's rest works")]
    stale = tuple(o for o in t.exits if o.at_broker)  # each holds shares: top_up.py
    if (covered := t.covered_qty()) > 0 and only_protection(stale, t.exits):
        return [PlaceProtection(qty - covered, t.planned_stop, take, tif)]  # what protects stays
    actions: list[Action] = []
    if stale:
        actions.append(CancelOrders(stale, f"protection resized to {qty} shares"))
    actions.append(PlaceProtection(qty, t.planned_stop, take, tif))
    return actions


def _exiting(t: TradeState) -> Decimal:
    """Shares a live exit order of ours (end of day, emergency, kill switch) is closing."""
    return sum((o.open_qty for o in t.exits if o.role is OrderRole.EXIT and o.at_broker),
               ZERO)


def _wash_with_entry(t: TradeState, take: Decimal | None) -> bool:
    """Whether the protection `decide` would place conflicts with the working entry under
    Alpaca's wash-trade rule (an OCO is a complex order: exempt)."""
    if t.entry is None or not t.entry.at_broker:
        return False
    protection = OrderShape(t.exit_side, "stop") if take is None else \
        OrderShape(t.exit_side, "limit", "oco", take)
    entry = OrderShape(t.side, "limit", t.entry.order_class, t.entry.limit_price)
    return conflicts(protection, entry)


def _has_bracket_legs(t: TradeState) -> bool:
    return t.entry is not None and any(o.parent_row_id == t.entry.row_id for o in t.exits)


def _close(t: TradeState) -> ClosePosition:
    entry_qty, entry_avg = t.entry_filled
    exit_qty, exit_avg = t.exit_filled
    assert entry_avg is not None and exit_avg is not None
    exits = [f for f in t.fills if f.role is not OrderRole.ENTRY]
    fees = sum((f.fee for f in t.fills), ZERO)
    pnl = closed_pnl(t.side, entry_avg, [(f.qty, f.price) for f in exits], fees)
    if not exits:  # an adopted position that left without a fill we saw: reconciliation's
        raise ValueError(f"trade #{t.journal_id} has no exit fill to close on")
    last = max(exits, key=lambda f: f.at)
    reason = _exit_reason(last)
    requested = _requested_exit(t, last)
    slip = slippage_bps(t.exit_side, requested, exit_avg) if requested else None
    return ClosePosition(exit_avg, last.at, pnl, fees, reason, requested, slip)


def _exit_reason(last: Fill) -> ExitReason:
    if last.role is OrderRole.STOP_LOSS:
        return ExitReason.STOPPED_OUT
    if last.role is OrderRole.TAKE_PROFIT:
        return ExitReason.TARGET_HIT
    try:
        return ExitReason(last.purpose.value)
    except ValueError:
        return ExitReason.EXTERNAL


def _requested_exit(t: TradeState, last: Fill) -> Decimal | None:
    order = next((o for o in t.exits if o.alpaca_order_id == last.order_id), None)
    if order is None:
        return None
    return order.stop_price if order.role is OrderRole.STOP_LOSS else order.limit_price


def _entry_slippage(t: TradeState, avg: Decimal) -> Decimal | None:
    return slippage_bps(t.side, t.planned_entry, avg) if t.planned_entry else None

