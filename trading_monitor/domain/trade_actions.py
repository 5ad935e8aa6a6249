"""What the order monitor can be told to do for one trade (`trade_state.decide` returns them,
in the order they must happen; the order monitor applies them through the ledger)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from trading_monitor.domain.lifecycle import ExitReason, TradeStatus

if TYPE_CHECKING:
    from trading_monitor.domain.order_view import OrderView


@dataclass(frozen=True)
class OpenPosition:
    qty: Decimal
    avg_price: Decimal
    first_fill_at: datetime
    slippage_bps: Decimal | None


@dataclass(frozen=True)
class ResizePosition:
    qty: Decimal
    avg_price: Decimal


@dataclass(frozen=True)
class EndEntry:
    status: TradeStatus
    reason: str


@dataclass(frozen=True)
class ClosePosition:
    exit_price: Decimal
    exit_at: datetime
    pnl: Decimal
    fees: Decimal
    reason: ExitReason
    requested_exit_price: Decimal | None
    slippage_bps: Decimal | None


@dataclass(frozen=True)
class CancelOrders:
    orders: tuple[OrderView, ...]
    why: str


@dataclass(frozen=True)
class WithdrawEntryRest:
    why: str


@dataclass(frozen=True)
class PlaceProtection:
    qty: Decimal
    stop_price: Decimal
    take_profit: Decimal | None  # an OCO when set
    time_in_force: str


@dataclass(frozen=True)
class MarkProtected:
    pass


Action = (OpenPosition | ResizePosition | EndEntry | ClosePosition | CancelOrders
          | WithdrawEntryRest | PlaceProtection | MarkProtected)
