"""One vocabulary for an order's status: what each status means for us, asked by name.

Alpaca's statuses (and two of our own, `pending_submit` and `not_sent`) are plain strings,
and a new one can turn up any day. Every check asks one of the predicates below instead of
keeping its own list, so "live" cannot mean one thing in the order monitor and another in
reconciliation (a `suspended` stop counted as protection in one and not the other gave an
alert every cycle that no action cleared).

A status we do not know is taken the safe way round: it may still fill (never book it
gone), it protects nothing (never leave shares without a stop on its word), it is not
settling (nothing waits for it) and not withdrawn (never treat its shares as free).
"""

from __future__ import annotations

# Our own states before the broker has the order.
PENDING_SUBMIT = "pending_submit"
NOT_SENT = "not_sent"

# The broker's final word that an order is gone without (further) fills. Nothing else
# counts as withdrawn: pending_cancel can still fill, a refused cancel leaves the order
# live, and a replaced order lives on as its successor.
WITHDRAWN = frozenset({"canceled", "expired", "rejected"})
# Nothing more can fill: withdrawn, filled, replaced (its successor lives on), or never sent.
FINAL = WITHDRAWN | {"filled", "replaced", NOT_SENT}
# A stop in one of these closes the shares when its price trades: protection. Not
# `pending_cancel` (on its way out), not `done_for_day`/`calculated` (will not trade today),
# not `suspended` (not eligible for trading) nor `stopped` (already triggered: an exit in
# progress, not a stop for later).
PROTECTS = frozenset({"new", "accepted", "pending_new", "held", "partially_filled",
                      "pending_replace"})
# The broker moves out of these by itself, soon: wait for them, never act on them.
SETTLING = frozenset({"pending_cancel", "pending_replace", "pending_new", "accepted"})
# Every status Alpaca documents that may still fill (for SQL lists and broker-side checks;
# code asks `OrderStatus(s).may_fill`, which is also true of a status not listed here).
BROKER_MAY_FILL = frozenset({"new", "accepted", "pending_new", "accepted_for_bidding", "held",
                             "partially_filled", "pending_cancel", "pending_replace",
                             "done_for_day", "calculated", "stopped", "suspended",
                             "pending_review"})


class OrderStatus(str):
    """Any status string, with what it means as named predicates."""

    __slots__ = ()

    @property
    def may_fill(self) -> bool:
        """The order may still trade (ours not yet sent included): never book it as gone."""
        return self not in FINAL

    @property
    def protects(self) -> bool:
        """A stop in this status is protection now."""
        return self in PROTECTS

    @property
    def settling(self) -> bool:
        """The broker leaves this status by itself: wait, do not act."""
        return self in SETTLING

    @property
    def withdrawn(self) -> bool:
        """The broker's final word that the order is gone without further fills."""
        return self in WITHDRAWN

    @property
    def final(self) -> bool:
        """Nothing more will ever fill (withdrawn, filled, replaced or never sent)."""
        return self in FINAL

    @property
    def at_broker(self) -> bool:
        """The broker holds it and it may fill (not our own unsent intent)."""
        return self.may_fill and self != PENDING_SUBMIT


def status(value: str) -> OrderStatus:
    return OrderStatus(value)


# The predicates as SQL parameters, so that a query asks the same question as the code:
#   `order_status <> ALL(%(final)s)`          may_fill (an unknown status too)
#   `order_status <> ALL(%(not_at_broker)s)`  at_broker, with `alpaca_order_id IS NOT NULL`
#   `order_status = ANY(%(protects)s)`        protects (an unknown status does not)
# A view cannot take parameters: tests/integration/test_order_status.py pins each list a view spells
# out.
SQL_PARAMS: dict[str, list[str]] = {
    "final": sorted(FINAL),
    "not_at_broker": sorted(FINAL | {PENDING_SUBMIT}),
    "protects": sorted(PROTECTS),
}
