"""Cancelling an order and reading the broker's final word on it, for every job.

An order is gone only when the broker says `canceled`, `expired` or `rejected` (or it
filled). A DELETE's 204 says nothing of the outcome; `pending_cancel` can still fill; a
refused cancel leaves the order live; a `replaced` order lives on as its successor. So the
order is read back, for a bounded time, and the caller acts on what it reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from trading_monitor.broker.base import Broker
from trading_monitor.broker.errors import NotFoundError
from trading_monitor.broker.models import BrokerOrder
from trading_monitor.crashpoints import crash_point
from trading_monitor.domain.order_status import OrderStatus
from trading_monitor.exceptions import RejectedError

MAX_REPLACEMENTS_FOLLOWED = 10
POLL_SECONDS = 0.25


@dataclass(frozen=True)
class Cancelled:
    order: BrokerOrder
    refused: str = ""  # the broker's refusal, when it refused the cancel

    @property
    def final(self) -> bool:
        return is_final(self.order)


def is_final(order: BrokerOrder) -> bool:
    return OrderStatus(order.status).withdrawn or order.status == "filled"


def follow_replacements(broker: Broker, order: BrokerOrder | None) -> BrokerOrder | None:
    for _ in range(MAX_REPLACEMENTS_FOLLOWED):
        if order is None or order.status != "replaced" or not order.replaced_by:
            return order
        order = broker.get_order(order.replaced_by) or order
    return order


def cancel_until_final(broker: Broker, order: BrokerOrder, *, settle_seconds: float,
                       sleep: Callable[[float], None],
                       max_poll: float = POLL_SECONDS) -> Cancelled:
    """Cancel (idempotently) and read back until final, within `settle_seconds`: a read
    every POLL_SECONDS, or, with a longer `max_poll`, reads that double their interval up to
    it (a long wait stays within the request budget)."""
    order = follow_replacements(broker, order) or order
    refused = ""
    asked = not is_final(order) and not OrderStatus(order.status).settling
    if asked:
        try:
            broker.cancel_order(order.id)
            crash_point("after_cancel")
        except NotFoundError:
            pass  # gone meanwhile (filled or cancelled): the read below tells which
        except RejectedError as exc:
            refused = f"the broker refused the cancel: {exc}"
    if asked:
        order = _reread(broker, order)
    waited, poll = 0.0, POLL_SECONDS
    while not refused and not is_final(order) and waited < settle_seconds:
        step = poll if max_poll <= POLL_SECONDS else min(poll, settle_seconds - waited)
        sleep(step)
        waited += step
        poll = min(poll * 2, max_poll) if max_poll > POLL_SECONDS else POLL_SECONDS
        order = _reread(broker, order)
    return Cancelled(order, refused)


def _reread(broker: Broker, order: BrokerOrder) -> BrokerOrder:
    return follow_replacements(broker, broker.get_order(order.id)) or order
