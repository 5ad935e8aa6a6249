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
OPEN_TRADE_STATUSES = frozenset({TradeStatus.PENDING, TradeStatus.POSITION})


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

OPEN_ORDER_STATUSES = frozenset({
    PENDING_SUBMIT, "new", "accepted", "pending_new", "accepted_for_bidding", "held",
    "partially_filled", "pending_cancel", "pending_replace", "pending_review", "calculated",
    "stopped", "done_for_day", "suspended",
})
FINAL_ORDER_STATUSES = frozenset({"filled", "canceled", "expired", "replaced", "rejected",
                                  NOT_SENT})


class IllegalTransition(ValueError):
    pass


def check_trade_transition(current: str, target: TradeStatus) -> None:
    if target not in TRADE_TRANSITIONS[TradeStatus(current)]:
        raise IllegalTransition(f"trade cannot go from {current} to {target.value}")


def client_order_id(installation: str, decision_id: int, role: OrderRole) -> str:
    """Derived from our own rows, so a retry after a crash finds the same order at the broker.

    The installation id keeps two databases sharing one Alpaca account from colliding.
    """
    return f"tm-{installation}-d{decision_id}-{role.value.lower()}"
