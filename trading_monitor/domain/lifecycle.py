"""Statuses, allowed transitions and client order ids: the lifecycle vocabulary."""

from __future__ import annotations

from enum import Enum


class TradeStatus(str, Enum):
    PENDING = "PENDING"
    POSITION = "POSITION"
    CLOSED = "CLOSED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"


TRADE_TRANSITIONS: dict[TradeStatus, frozenset[TradeStatus]] = {
    TradeStatus.PENDING: frozenset({TradeStatus.POSITION, TradeStatus.CANCELLED,
                                    TradeStatus.REJECTED, TradeStatus.CLOSED}),
    TradeStatus.POSITION: frozenset({TradeStatus.CLOSED}),
    TradeStatus.CLOSED: frozenset(),
    TradeStatus.CANCELLED: frozenset(),
    TradeStatus.REJECTED: frozenset(),
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


# Our own states before the broker has the order.
PENDING_SUBMIT = "pending_submit"
NOT_SENT = "not_sent"

FINAL_ORDER_STATUSES = frozenset({"filled", "canceled", "expired", "replaced", "rejected",
                                  NOT_SENT})


class IllegalTransition(ValueError):
    pass


def check_trade_transition(current: str, target: str) -> None:
    """Staying put is allowed (a note on a pending trade); anything else must be a listed move."""
    if current != target and TradeStatus(target) not in TRADE_TRANSITIONS[TradeStatus(current)]:
        raise IllegalTransition(f"trade cannot go from {current} to {target}")


def client_order_id(installation: str, decision_id: int, role: OrderRole) -> str:
    """Derived from our own rows, so a retry after a crash finds the same order at the broker.

    The installation id keeps two databases sharing one Alpaca account from colliding.
    """
    return f"tm-{installation}-d{decision_id}-{role.value.lower()}"
