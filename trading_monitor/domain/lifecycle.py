"""Statuses, allowed transitions and client order ids: the lifecycle vocabulary."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum

from trading_monitor.domain.order_status import (
    BROKER_MAY_FILL,
    FINAL,
    NOT_SENT,
    PENDING_SUBMIT,
    SETTLING,
    WITHDRAWN,
    OrderStatus,
)

__all__ = ["FINAL_ORDER_STATUSES", "LIVE_ORDER_STATUSES", "NOT_SENT", "OPEN_TRADE_STATUSES",
           "PENDING_SUBMIT", "SETTLING_ORDER_STATUSES", "TRADE_TRANSITIONS",
           "WITHDRAWN_ORDER_STATUSES", "ExitReason", "IllegalTransition", "OrderRole",
           "Purpose", "TerminalState", "TradeStatus", "check_trade_transition",
           "client_order_id", "owned_client_order_id", "trade_status_for_entry",
           "withdrawn_trade_status"]


class TradeStatus(str, Enum):
    PENDING = "PENDING"
    POSITION = "POSITION"
    CLOSED = "CLOSED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"


# The broker's fill is a fact: a trade we thought withdrawn becomes a position when a fill
# that raced the cancel or the expiry turns up (the cancel arrived after a partial fill).
TRADE_TRANSITIONS: dict[TradeStatus, frozenset[TradeStatus]] = {
    TradeStatus.PENDING: frozenset({TradeStatus.POSITION, TradeStatus.CANCELLED,
                                    TradeStatus.EXPIRED, TradeStatus.REJECTED,
                                    TradeStatus.CLOSED}),
    TradeStatus.POSITION: frozenset({TradeStatus.CLOSED}),
    TradeStatus.CANCELLED: frozenset({TradeStatus.POSITION}),
    TradeStatus.EXPIRED: frozenset({TradeStatus.POSITION}),
    TradeStatus.REJECTED: frozenset(),
    TradeStatus.CLOSED: frozenset(),
}
OPEN_TRADE_STATUSES = frozenset({TradeStatus.PENDING.value, TradeStatus.POSITION.value})


class TerminalState(str, Enum):
    """The one final outcome of a decision (decision_outcome.terminal_state)."""

    EXECUTED = "EXECUTED"
    REJECTED = "REJECTED"
    SKIPPED = "SKIPPED"


class OrderRole(str, Enum):
    ENTRY = "ENTRY"
    STOP_LOSS = "STOP_LOSS"
    TAKE_PROFIT = "TAKE_PROFIT"
    EXIT = "EXIT"


class ExitReason(str, Enum):
    """Why a position closed: one vocabulary for every job (trade_journal.exit_reason_code)."""

    STOPPED_OUT = "STOPPED_OUT"
    TARGET_HIT = "TARGET_HIT"
    EOD_FLATTEN = "EOD_FLATTEN"
    MANUAL = "MANUAL"
    EXTERNAL = "EXTERNAL"
    KILL_SWITCH = "KILL_SWITCH"
    EMERGENCY = "EMERGENCY"


class Purpose(str, Enum):
    """Why we placed an order (order_execution.purpose)."""

    ENTRY = "ENTRY"
    PROTECTION = "PROTECTION"
    EOD_FLATTEN = "EOD_FLATTEN"
    EMERGENCY = "EMERGENCY"
    KILL_SWITCH = "KILL_SWITCH"
    TARGET_HIT = "TARGET_HIT"
    MANUAL = "MANUAL"  # the trader's own close through us: flatten TRADE_ID (migration 0019)


# The order-status vocabulary lives in domain/order_status.py; these names stay for the
# modules that list statuses (SQL parameters, broker-side checks).
WITHDRAWN_ORDER_STATUSES = WITHDRAWN
FINAL_ORDER_STATUSES = FINAL
LIVE_ORDER_STATUSES = BROKER_MAY_FILL  # what the broker still holds and may fill
SETTLING_ORDER_STATUSES = SETTLING


class IllegalTransition(ValueError):
    pass


def check_trade_transition(current: str, target: str) -> None:
    """Staying put is allowed (a note on a pending trade); anything else must be a listed move."""
    if current != target and TradeStatus(target) not in TRADE_TRANSITIONS[TradeStatus(current)]:
        raise IllegalTransition(f"trade cannot go from {current} to {target}")


def client_order_id(installation: str, decision_id: int, role: OrderRole, attempt: int = 1
                    ) -> str:
    """Derived from our own rows, so a retry after a crash finds the same order at the broker.

    The installation id keeps two databases sharing one Alpaca account from colliding.
    Alpaca never takes an id twice, so a re-placed order gets the next attempt number.
    """
    return owned_client_order_id(installation, f"d{decision_id}", role, attempt)


def owned_client_order_id(installation: str, owner: str, role: OrderRole, attempt: int = 1
                          ) -> str:
    """`owner` is `d<decision id>`, or `t<trade id>` for a trade no decision opened."""
    base = f"tm-{installation}-{owner}-{role.value.lower()}"
    return base if attempt == 1 else f"{base}-{attempt}"


def trade_status_for_entry(order_status: str, filled_qty: Decimal | None) -> TradeStatus | None:
    """What the broker's view of an entry order means for its trade, or None for no change.

    Any filled quantity makes a position, whatever else happened to the order.
    """
    if filled_qty is not None and filled_qty > 0:
        return TradeStatus.POSITION
    if not OrderStatus(order_status).withdrawn:
        return None
    return {"canceled": TradeStatus.CANCELLED, "expired": TradeStatus.EXPIRED,
            "rejected": TradeStatus.REJECTED}[order_status]


def withdrawn_trade_status(cancelled: TradeStatus, entry_expires_at: datetime | None,
                           now: datetime) -> TradeStatus:
    """What a trade whose unfilled entry was cancelled becomes: EXPIRED once the entry's
    session is over (our own withdrawal at the close, whichever job records it first)."""
    if cancelled is TradeStatus.CANCELLED and entry_expires_at is not None \
            and now >= entry_expires_at:
        return TradeStatus.EXPIRED
    return cancelled
