"""The position monitor as a service: a database config, a broker and settings; one cycle.

It works on the order monitor's books and machinery (its sync, ledger and protection), so
it holds the order monitor's advisory lock for the cycle: the two never act on one trade
at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from trading_monitor.broker.base import Broker
from trading_monitor.broker.read_only import ReadOnlyBroker
from trading_monitor.clock import Clock, job_clock
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.locks import hold_lock
from trading_monitor.domain.trailing import parse_steps
from trading_monitor.engine.account_guard import guarded
from trading_monitor.engine.context import Monitor, monitor_settings
from trading_monitor.engine.job_locks import ORDER_MONITOR_LOCK_KEY
from trading_monitor.ledger.installation import installation_id
from trading_monitor.ledger.runs import new_run_id, recorded_run
from trading_monitor.position_monitor.context import PositionMonitor, PositionSettings
from trading_monitor.position_monitor.cycle import PositionReport, run_position_cycle
from trading_monitor.settings.config import Settings


def position_settings(settings: Settings) -> PositionSettings:
    return PositionSettings(
        data_feed=settings.alpaca_data_feed.value,
        max_price_age=timedelta(minutes=float(settings.max_price_age_minutes)),
        trailing_steps=parse_steps(settings.trailing_steps),
        reconcile_grace=timedelta(seconds=settings.reconcile_grace_seconds),
        external_protection=settings.external_position_protection.value,
        emergency_stop_pct=Decimal(settings.emergency_stop_pct),
        max_daily_loss=settings.max_daily_loss,
        max_drawdown_pct=settings.max_drawdown_pct,
        incident_trades=settings.reconcile_incident_trades,
        incident_pct=settings.reconcile_incident_pct,
        exit_working_alert=timedelta(seconds=settings.exit_working_alert_seconds),
        resting_stop_action=settings.resting_stop_action,
        halt_suspect=timedelta(minutes=settings.halt_suspect_minutes)
        if settings.halt_suspect_minutes else None, halt_source=settings.halt_source)


def position_monitor_once(db_config: dict[str, Any], broker: Broker, settings: Settings, *,
                          dry_run: bool = False, mode: str | None = None,
                          now: Clock | None = None,
                          sleep: Callable[[float], None] = time.sleep) -> PositionReport:
    now = now or job_clock(settings.clock_source.value, broker)
    db = TradingDB(config=db_config, application_name="trading-monitor position monitor",
                   read_only=dry_run).connect()
    try:
        if dry_run:
            run_id = new_run_id("position_monitor")
            return run_position_cycle(_context(db, ReadOnlyBroker(guarded(db, broker, run_id)),
                                               settings, run_id, now, sleep, dry_run=True))
        with hold_lock(db, ORDER_MONITOR_LOCK_KEY, "order or position monitor",
                       settings.executor_lock_wait_seconds, sleep):
            return recorded_run(
                db, "position_monitor", mode, now, lambda: broker.requests_sent,
                lambda run_id: run_position_cycle(_context(
                    db, guarded(db, broker, run_id), settings, run_id, now, sleep)),
                lambda r: ("PARTIAL" if r.failing else "SUCCEEDED", r.summary,
                           r.broker_requests))
    finally:
        db.close()


def _context(db: TradingDB, broker: Broker, settings: Settings, run_id: str, now: Clock,
             sleep: Callable[[float], None], dry_run: bool = False) -> PositionMonitor:
    orders = Monitor(db=db, broker=broker, run_id=run_id, installation=installation_id(db),
                     config=monitor_settings(settings), now=now, dry_run=dry_run, sleep=sleep)
    return PositionMonitor(orders=orders, config=position_settings(settings))
