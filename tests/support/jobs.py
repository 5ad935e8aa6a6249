"""The `jobs` fixture: the three jobs (order executor, order monitor, position monitor) run
against the test's database and paper exchange, on the exchange's clock, as the daemon runs
them. It replaces the module-level `run(db_params, broker, settings)` helpers tests copied.

    def test_a_filled_entry_gets_its_stop(db, jobs, exchange):
        d = add_decision(db, entry(entry_price="181.00"))
        jobs.executor()
        jobs.order_monitor()
        ...

    staged = jobs.with_settings(PROTECTION_MODE="staged")  # the same test, other settings
    staged.cycle()  # executor, order monitor, position monitor, in the daemon's order

Each call returns the job's report. Keyword arguments go to the job's `*_once` function
(`now=` overrides the exchange's clock).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest

from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.base import Broker
from trading_monitor.broker.transport import RequestBudget
from trading_monitor.order_executor.cycle import CycleReport
from trading_monitor.order_executor.service import execute_once
from trading_monitor.order_monitor.cycle import MonitorReport
from trading_monitor.order_monitor.service import monitor_once
from trading_monitor.paper_exchange import PaperExchange
from trading_monitor.position_monitor.cycle import PositionReport
from trading_monitor.position_monitor.service import position_monitor_once
from trading_monitor.settings.config import Settings, load_settings


@dataclass(frozen=True)
class Jobs:
    db_params: dict[str, Any]
    broker: Broker
    settings: Settings
    exchange: PaperExchange

    def _on_the_exchange_clock(self, kw: dict[str, Any]) -> dict[str, Any]:
        kw.setdefault("now", self.exchange.venue.clock.now)
        return kw

    def executor(self, **kw: Any) -> CycleReport:
        """One order-executor cycle."""
        return execute_once(self.db_params, self.broker, self.settings,
                            **self._on_the_exchange_clock(kw))

    def order_monitor(self, **kw: Any) -> MonitorReport:
        """One order-monitor cycle."""
        return monitor_once(self.db_params, self.broker, self.settings,
                            **self._on_the_exchange_clock(kw))

    def position_monitor(self, **kw: Any) -> PositionReport:
        """One position-monitor cycle."""
        return position_monitor_once(self.db_params, self.broker, self.settings,
                                     **self._on_the_exchange_clock(kw))

    def cycle(self) -> tuple[CycleReport, MonitorReport, PositionReport]:
        """Each job once, in the daemon's order: decisions out, orders settled, positions
        reconciled."""
        return self.executor(), self.order_monitor(), self.position_monitor()

    def with_settings(self, **env: str) -> Jobs:
        """The same jobs with settings from the test environment plus `env` (PROTECTION_MODE,
        MAX_POSITIONS, ...), and a broker built on them."""
        from tests.conftest import exchange_env

        settings = load_settings(exchange_env(self.exchange, **env), need_broker=True)
        return replace(self, settings=settings,
                       broker=AlpacaBroker(settings, budget=RequestBudget(100_000)))


@pytest.fixture
def jobs(db_params: dict[str, Any], broker: AlpacaBroker, settings: Settings,
         exchange: PaperExchange) -> Jobs:
    """The three jobs on this test's database and exchange (tests/support/jobs.py)."""
    return Jobs(db_params, broker, settings, exchange)
