"""The order monitor as a service: a database config, a broker and settings; one cycle.

A normal cycle holds the order monitor's advisory lock (the stream listener takes the same
lock per event), so a polling cycle and a fill on the stream never act on one trade at
once. A dry run opens read-only sessions and a broker that refuses writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from trading_monitor.broker.base import Broker
from trading_monitor.broker.read_only import ReadOnlyBroker
from trading_monitor.clock import Clock, job_clock
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.locks import hold_lock
from trading_monitor.engine.account_guard import guarded
from trading_monitor.engine.context import Monitor, monitor_settings
from trading_monitor.engine.job_locks import ORDER_MONITOR_LOCK_KEY
from trading_monitor.ledger.installation import installation_id
from trading_monitor.ledger.runs import new_run_id, recorded_run
from trading_monitor.order_monitor.cycle import MonitorReport, run_monitor_cycle
from trading_monitor.settings.config import Settings


def monitor_once(db_config: dict[str, Any], broker: Broker, settings: Settings, *,
                 dry_run: bool = False, mode: str | None = None, now: Clock | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> MonitorReport:
    now = now or job_clock(settings.clock_source.value, broker)
    db = TradingDB(config=db_config, application_name="trading-monitor order monitor",
                   read_only=dry_run).connect()
    try:
        if dry_run:
            run_id = new_run_id("order_monitor")
            m = Monitor(db=db, broker=ReadOnlyBroker(guarded(db, broker, run_id)), run_id=run_id,
                        installation=installation_id(db), config=monitor_settings(settings),
                        now=now, dry_run=True, sleep=sleep)
            return run_monitor_cycle(m)
        with hold_lock(db, ORDER_MONITOR_LOCK_KEY, "order monitor",
                       settings.executor_lock_wait_seconds, sleep):
            return _normal_cycle(db, broker, settings, mode, now, sleep)
    finally:
        db.close()


def _normal_cycle(db: TradingDB, broker: Broker, settings: Settings, mode: str | None,
                  now: Clock, sleep: Callable[[float], None]) -> MonitorReport:
    def work(run_id: str) -> MonitorReport:
        return run_monitor_cycle(Monitor(
            db=db, broker=guarded(db, broker, run_id), run_id=run_id,
            installation=installation_id(db), config=monitor_settings(settings), now=now,
            sleep=sleep))

    return recorded_run(db, "order_monitor", mode, now, lambda: broker.requests_sent, work,
                        lambda r: ("PARTIAL" if r.problems else "SUCCEEDED", r.summary,
                                   r.broker_requests))
