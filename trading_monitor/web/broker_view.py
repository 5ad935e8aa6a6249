"""The stops the broker really holds, read for the cockpit page: one list of open orders at
most every CACHE_SECONDS, through the daemon's broker and its shared request budget, only
while someone looks at the page. The books' stop of each position is set beside it: the page
says when the broker confirms it, and in red when it does not.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from trading_monitor.broker.base import Broker
from trading_monitor.broker.models import BrokerOrder
from trading_monitor.clock import system_clock
from trading_monitor.domain.order_status import PROTECTS

log = logging.getLogger(__name__)
CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class BrokerStops:
    """Open orders by id (legs included) as the broker listed them at `at`, or why not."""

    at: datetime | None
    orders: dict[str, BrokerOrder] = field(default_factory=dict)
    error: str | None = None

    def check(self, stop_ids: tuple[str, ...], qty: Decimal) -> tuple[bool, str]:
        """(confirmed, what the broker shows) for a position's live stop orders of ours."""
        if self.error is not None or self.at is None:
            return False, f"broker not read ({self.error or 'no read yet'})"
        held = [self.orders[i] for i in stop_ids if i in self.orders
                and self.orders[i].status in PROTECTS]
        if not held:
            return False, "the broker lists NONE of the stops of this trade"
        covered = sum((o.qty - o.filled_qty for o in held), Decimal(0))
        prices = ", ".join(f"{o.stop_price.normalize():f}" if o.stop_price is not None
                           else "?" for o in held)
        text = f"broker holds stop {prices} for {covered.normalize():f} shares"
        return covered >= qty, text + ("" if covered >= qty else f" of {qty.normalize():f}")


class BrokerView:
    def __init__(self, broker: Broker | None, *, cache_seconds: float = CACHE_SECONDS,
                 now: Callable[[], datetime] = system_clock):
        self.broker, self.now = broker, now  # `now`: the daemon's job clock, as the page's
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._last: BrokerStops | None = None
        self._read_at = 0.0

    def stops(self) -> BrokerStops:
        """The cached read, or a new one when it is older than cache_seconds (one reader at a
        time: a burst of page loads costs one request)."""
        if self.broker is None:
            return BrokerStops(None, error="no broker")
        with self._lock:
            if self._last is not None and time.monotonic() - self._read_at < self.cache_seconds:
                return self._last
            try:
                listed = self.broker.list_open_orders()
                orders = {o.id: o for o in listed}
                orders.update({leg.id: leg for o in listed for leg in o.legs})
                self._last = BrokerStops(self.now(), orders)
            except Exception as exc:  # the page still shows the books, and says so
                log.warning("cockpit: the broker's open orders could not be read: %s",
                            type(exc).__name__)
                self._last = BrokerStops(None, error=type(exc).__name__)
            self._read_at = time.monotonic()
            return self._last
