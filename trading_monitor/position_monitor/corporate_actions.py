"""Corporate actions before the open: the position monitor's pre-open run (docs/position-
monitor.md, "Corporate actions").

At 09:00 New York and at daemon start, `pre_open_once` reads Alpaca's announcements
(GET /v1/corporate-actions, data_quality=all, by ex-date) for every symbol we hold or have
working orders in, for today and the next trading day, stores them, raises an ALERT the
trading day before a merger, spin-off, worthless removal or redemption of a symbol we hold
(engine/announcements.py), then runs the position-monitor cycle, which applies what is due
(corporate_apply.py). A day whose pre-open run did not happen is read by its first cycle.

A missed announcement is found by every cycle from the activities (corporate_missed.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from trading_monitor.broker.base import Broker
from trading_monitor.clock import Clock, job_clock
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.locks import hold_lock
from trading_monitor.engine.account_guard import guarded
from trading_monitor.engine.announcements import read_announcements
from trading_monitor.engine.context import Monitor, monitor_settings
from trading_monitor.engine.job_locks import ORDER_MONITOR_LOCK_KEY
from trading_monitor.ledger.installation import installation_id
from trading_monitor.ledger.runs import recorded_run
from trading_monitor.position_monitor.context import PositionMonitor
from trading_monitor.position_monitor.cycle import PositionReport, run_position_cycle
from trading_monitor.position_monitor.service import position_settings
from trading_monitor.settings.config import Settings

log = logging.getLogger(__name__)


def pre_open_once(db_config: dict[str, Any], broker: Broker, settings: Settings, *,
                  mode: str | None = None, now: Clock | None = None,
                  sleep: Callable[[float], None] = time.sleep) -> PositionReport:
    """The pre-open run: announcements read and stored, then one position-monitor cycle."""
    now = now or job_clock(settings.clock_source.value, broker)
    db = TradingDB(config=db_config, application_name="trading-monitor pre-open").connect()
    try:
        with hold_lock(db, ORDER_MONITOR_LOCK_KEY, "order or position monitor",
                       settings.executor_lock_wait_seconds, sleep):
            def work(run_id: str) -> PositionReport:
                orders = Monitor(db=db, broker=guarded(db, broker, run_id), run_id=run_id,
                                 installation=installation_id(db),
                                 config=monitor_settings(settings), now=now, sleep=sleep)
                pm = PositionMonitor(orders=orders, config=position_settings(settings))
                read = read_announcements(orders)
                report = run_position_cycle(pm)
                report.actions = read + report.actions
                return report
            return recorded_run(db, "position_monitor", mode, now, lambda: broker.requests_sent,
                                work, lambda r: ("PARTIAL" if r.failing else "SUCCEEDED",
                                                 {**r.summary, "pre_open": True},
                                                 r.broker_requests))
    finally:
        db.close()
