"""The `jobs` fixture: the three jobs (order executor, order monitor, position monitor) run
against the test's database and paper exchange, on the exchange's clock, as the daemon runs
them. It is the one place tests run the jobs.

    def test_a_filled_entry_gets_its_stop(db, jobs, exchange):
        d = add_decision(db, entry(entry_price="181.00"))
        jobs.executor()
        jobs.order_monitor()
        ...

    staged = jobs.with_settings(PROTECTION_MODE="staged")  # the same test, other settings
    staged.cycle()  # executor, order monitor, position monitor, in the daemon's order
    jid = staged.position(db, "MSFT")  # a filled, protected MSFT position: its trade's id
    ids = staged.book(db, marketable("AAPL"), marketable("MSFT", take_profit="440.00"))
    staged.monitors(advance=60)  # a minute later: order monitor, then position monitor

Each job call returns the job's report. Keyword arguments go to the job's `*_once` function
(`now=` overrides the exchange's clock).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest

from tests.helpers import add_decision, entry, outcome
from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.base import Broker
from trading_monitor.broker.transport import RequestBudget
from trading_monitor.db.connection import TradingDB
from trading_monitor.order_executor.cycle import CycleReport
from trading_monitor.order_executor.service import execute_once
from trading_monitor.order_monitor.cycle import MonitorReport
from trading_monitor.order_monitor.service import monitor_once
from trading_monitor.paper_exchange import PaperExchange
from trading_monitor.position_monitor.cycle import PositionReport
from trading_monitor.position_monitor.service import position_monitor_once
from trading_monitor.settings.config import Settings, load_settings

# entry, stop loss, take profit: a buy limit a dollar above the test exchange's price (it fills
# at once) with its stop and target either side (tests/conftest.py's `exchange` prices)
MARKETABLE = {"AAPL": ("181.00", "175.00", "195.00"), "MSFT": ("421.00", "410.00", "450.00"),
              "NVDA": ("131.00", "125.00", "150.00"), "TSLA": ("251.00", "240.00", "280.00")}


def marketable(ticker: str = "AAPL", **overrides: Any) -> dict[str, Any]:
    """A SWING buy of 10 that fills at once on the test exchange, with stop and take profit
    (MARKETABLE); `overrides` change any field of the decision."""
    price, stop, take = MARKETABLE[ticker]
    return entry(ticker, **{"entry_price": price, "stop_loss": stop, "take_profit": take,
                            **overrides})


def _status(db: TradingDB, trade_id: int) -> str:
    row = db.get_by_id("trade_journal", trade_id)
    assert row is not None
    return str(row["status"])


@dataclass(frozen=True)
class Jobs:
    db_params: dict[str, Any]
    broker: Broker
    settings: Settings
    exchange: PaperExchange | None = None

    def _run(self, job: Callable[..., Any], kw: dict[str, Any]) -> Any:
        if self.exchange is not None:
            kw.setdefault("now", self.exchange.venue.clock.now)
        return job(self.db_params, self.broker, self.settings, **kw)

    def executor(self, **kw: Any) -> CycleReport:
        """One order-executor cycle."""
        report: CycleReport = self._run(execute_once, kw)
        return report

    def order_monitor(self, **kw: Any) -> MonitorReport:
        """One order-monitor cycle."""
        report: MonitorReport = self._run(monitor_once, kw)
        return report

    def position_monitor(self, **kw: Any) -> PositionReport:
        """One position-monitor cycle."""
        report: PositionReport = self._run(position_monitor_once, kw)
        return report

    def cycle(self) -> tuple[CycleReport, MonitorReport, PositionReport]:
        """Each job once, in the daemon's order: decisions out, orders settled, positions
        reconciled."""
        return self.executor(), self.order_monitor(), self.position_monitor()

    def monitors(self, advance: int = 0) -> tuple[MonitorReport, PositionReport]:
        """`advance` seconds of exchange time, then the order monitor and the position
        monitor once each."""
        if advance:
            self._exchange.control.advance(advance)
        return self.order_monitor(), self.position_monitor()

    def position(self, db: TradingDB, ticker: str = "AAPL", *, protect: bool = True,
                 **body: Any) -> int:
        """A position opened the way the jobs open one: a marketable decision (`marketable`,
        `body` overrides its fields), one executor cycle (the entry fills), then with
        `protect` one order-monitor cycle (the trade is a protected POSITION). Its trade's id."""
        d = add_decision(db, marketable(ticker, **body))
        self.executor()
        assert outcome(db, d)["terminal_state"] == "EXECUTED", outcome(db, d)["reason"]
        jid = int(outcome(db, d)["trade_journal_id"])
        if protect:
            self.order_monitor()
            assert _status(db, jid) == "POSITION"
        return jid

    def book(self, db: TradingDB, *bodies: dict[str, Any]) -> dict[str, int]:
        """A book of positions: each decision (`marketable(...)`) with an executor cycle of
        its own, then the order monitor protects them all and the position monitor finds the
        book clean. Each ticker's trade id."""
        ids = {}
        for body in bodies:
            d = add_decision(db, body)
            self.executor()
            assert outcome(db, d)["trade_journal_id"], outcome(db, d)["reason"]
            ids[body["ticker"]] = int(outcome(db, d)["trade_journal_id"])
        self.order_monitor()
        assert {_status(db, j) for j in ids.values()} == {"POSITION"}
        assert self.position_monitor().status == "PASS"
        return ids

    def with_settings(self, **env: str) -> Jobs:
        """The same jobs with settings from the test environment plus `env` (PROTECTION_MODE,
        MAX_POSITIONS, ...), and a broker built on them."""
        from tests.conftest import exchange_env

        settings = load_settings(exchange_env(self._exchange, **env), need_broker=True)
        return replace(self, settings=settings,
                       broker=AlpacaBroker(settings, budget=RequestBudget(100_000)))

    def with_broker(self, broker: Broker) -> Jobs:
        """The same jobs through another broker (a restart with other keys)."""
        return replace(self, broker=broker)

    @property
    def _exchange(self) -> PaperExchange:
        assert self.exchange is not None, "these jobs were made without an exchange"
        return self.exchange


@pytest.fixture
def jobs(db_params: dict[str, Any], broker: AlpacaBroker, settings: Settings,
         exchange: PaperExchange) -> Jobs:
    """The three jobs on this test's database and exchange (tests/support/jobs.py)."""
    return Jobs(db_params, broker, settings, exchange)
