"""The kill switch within a second, even in the middle of a cycle.

The executor reads the kill switch when its cycle starts; a cycle already sending a burst of
entries would carry on for seconds after the trader flipped it. The daemon hands the
executor its broker through this gate, and closes the gate the moment the kill switch's
notification says it is on: from then no entry is sent. The refused submit is a temporary
error, so the executor keeps the decision pending, looks the order up by its client order
id next cycle (it finds none), and then closes it under its own halt check with the kill
switch's reason. Only entries pass here (the executor submits nothing else); cancels and
every other call go straight through, and the monitors' protective orders never see it.

The gate is re-read from system_state before every executor cycle, so a lost "off"
notification cannot keep entries blocked.
"""

from __future__ import annotations

import logging
from typing import Any

from trading_monitor.db.connection import TradingDB
from trading_monitor.db.queries import Queries
from trading_monitor.exceptions import TemporaryError
from trading_monitor.order_executor.view import ON_WORDS

QUERIES = Queries(__name__)  # queries.sql beside this module

log = logging.getLogger(__name__)


class EntryGate:
    def __init__(self, broker: Any, db_config: dict[str, Any]):
        self._broker, self._db_config = broker, db_config
        self.closed: str | None = None  # why entries are refused now

    def __getattr__(self, name: str) -> Any:
        return getattr(self._broker, name)

    def submit_order(self, request: Any) -> Any:
        closed = self.closed
        if closed is not None:
            raise TemporaryError(f"not sent: {closed}; settled next cycle")
        return self._broker.submit_order(request)

    def sync(self) -> None:
        """Read the kill switch; close or open the gate to match."""
        with TradingDB(config=self._db_config, application_name="trading-monitor gate") as db:
            rows = db.execute_query(QUERIES["kill_switch"])
        on = bool(rows) and str(rows[0]["value"] or "").strip().lower() in ON_WORDS
        was, self.closed = self.closed, (
            f"the kill switch is on ({rows[0]['reason'] or 'no reason given'})" if on else None)
        if self.closed and not was:
            log.warning("kill switch on: no entry is sent from now on")
