"""One order-monitor cycle: sync, settle every open trade, then the housekeeping."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from trading_monitor.engine.context import Monitor
from trading_monitor.engine.end_of_day import flatten_now
from trading_monitor.engine.housekeeping import (
    cancel_orphans,
    flatten_day_trades,
    renew_aging_gtc,
)
from trading_monitor.engine.settle import settle_booked_exits, settle_trade
from trading_monitor.engine.state import LoadedTrade, open_trades
from trading_monitor.engine.sync import SyncResult, sync_orders
from trading_monitor.exceptions import DatabaseUnavailable, FatalError

log = logging.getLogger(__name__)


@dataclass
class MonitorReport:
    sync: SyncResult = field(default_factory=SyncResult)
    actions: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    broker_requests: int = 0

    @property
    def summary(self) -> dict[str, int]:
        return {"new_fills": self.sync.new_fills, "orders_changed": self.sync.orders_changed,
                "looked_up": self.sync.looked_up, "actions": len(self.actions),
                "problems": len(self.problems), "broker_requests": self.broker_requests}


def run_monitor_cycle(m: Monitor) -> MonitorReport:
    report = MonitorReport()
    start = m.broker.requests_sent
    report.sync = sync_orders(m)
    flattened: set[int] = set()
    for trade in open_trades(m):
        _guarded(report, trade, partial(_settle, m, trade, flattened))
    trades = [t for t in open_trades(m) if t.state.journal_id not in flattened]
    report.actions += flatten_day_trades(m, trades)
    report.actions += settle_booked_exits(m, open_trades(m))  # the flatten's filled exits
    report.actions += renew_aging_gtc(m, open_trades(m))
    report.actions += cancel_orphans(m)
    report.actions += m.planned
    report.broker_requests = m.broker.requests_sent - start
    return report


def _settle(m: Monitor, trade: LoadedTrade, flattened: set[int]) -> list[str]:
    """The trade's settle step; at the flatten time, a day trade whose stop's cancel is
    final (or still pending) goes to its exit instead of a stop put back (R10-LONG)."""
    lines = flatten_now(m, trade)
    if lines is None:
        return settle_trade(m, trade)
    flattened.add(trade.state.journal_id)
    return lines


def _guarded(report: MonitorReport, trade: LoadedTrade, work: Callable[[], list[str]]
             ) -> None:
    """One trade's failure is logged and reported; the other trades go on."""
    try:
        report.actions += work()
    except (FatalError, DatabaseUnavailable):
        raise
    except Exception as exc:
        log.exception("trade #%s could not be settled", trade.state.journal_id)
        report.problems.append(f"trade #{trade.state.journal_id}: {type(exc).__name__}: {exc}")
