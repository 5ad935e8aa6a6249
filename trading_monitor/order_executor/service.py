"""The executor as a service: give it a database config, a broker and settings; it runs a cycle.

A normal cycle holds the executor's advisory lock from start to end, so two executors
(a stray cron job beside the daemon) never both pass the same risk limit. A dry run opens
read-only database sessions and a broker that refuses writes: it cannot change anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from trading_monitor.broker.base import Broker
from trading_monitor.broker.read_only import ReadOnlyBroker
from trading_monitor.clock import Clock, job_clock
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.locks import wait_for_lock
from trading_monitor.domain.risk import RiskLimits
from trading_monitor.engine.account_guard import guarded
from trading_monitor.engine.job_locks import EXECUTOR_LOCK_KEY
from trading_monitor.ledger.installation import installation_id
from trading_monitor.ledger.runs import new_run_id, recorded_run
from trading_monitor.order_executor.context import Executor, ExecutorSettings
from trading_monitor.order_executor.cycle import CycleReport, run_cycle
from trading_monitor.settings.config import Settings

# An arbitrary constant beside the migration lock's; see db/migrate.py.


def limits_from(settings: Settings) -> RiskLimits:
    return RiskLimits(
        max_notional_per_order=settings.max_notional_per_order,
        max_open_positions=settings.max_open_positions,
        max_total_exposure=settings.max_total_exposure,
        max_daily_loss=settings.max_daily_loss,
        check_buying_power=settings.check_buying_power,
        check_price_consistency=settings.check_price_consistency,
        block_duplicate_entry=settings.block_duplicate_entry,
        block_same_day_reentry=settings.block_same_day_reentry,
        reject_day_orders_when_closed=settings.reject_day_orders_when_closed,
        max_price_deviation_pct=settings.max_price_deviation_pct,
        max_spread_pct=settings.max_spread_pct,
        min_daily_volume=settings.min_daily_volume,
    )


def executor_settings(settings: Settings) -> ExecutorSettings:
    return ExecutorSettings(
        limits=limits_from(settings), protection_mode=settings.protection_mode.value,
        trading_halted=settings.trading_halted,
        max_decision_age=_hours(settings.max_decision_age_hours),
        max_unsent_delay=_minutes(settings.max_unsent_order_minutes),
        data_feed=settings.alpaca_data_feed.value,
        cancel_settle_seconds=settings.cancel_settle_seconds,
        max_deferrals=settings.max_deferrals,
        eod_flatten_before_close=timedelta(minutes=settings.eod_flatten_minutes))


def execute_once(db_config: dict[str, Any], broker: Broker, settings: Settings, *,
                 dry_run: bool = False, mode: str | None = None, now: Clock | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 entries_at: datetime | None = None) -> CycleReport:
    """One cycle with its own connections and (unless dry) its own job_run row.
    `entries_at`: a cycle before EXECUTOR_TIME, CANCELs and AMENDs' cancels only (cycle.py)."""
    now = now or job_clock(settings.clock_source.value, broker)
    if dry_run:
        return _dry_run(db_config, broker, settings, now, sleep)
    db = TradingDB(config=db_config, application_name="trading-monitor executor").connect()
    claims = TradingDB(config=db_config, application_name="trading-monitor claims").connect()
    try:
        wait_for_lock(db, EXECUTOR_LOCK_KEY, "order executor",
                      settings.executor_lock_wait_seconds, sleep)
        def work(run_id: str) -> CycleReport:
            return run_cycle(Executor(
                db=db, claims=claims, broker=guarded(db, broker, run_id), run_id=run_id,
                installation=installation_id(db), config=executor_settings(settings), now=now,
                sleep=sleep), entries_at=entries_at)

        return recorded_run(db, "order_executor", mode, now, lambda: broker.requests_sent,
                            work, lambda r: (
                                "PARTIAL" if r.count("DEFERRED") else "SUCCEEDED",
                                r.summary | {"expired": r.expired} | ({
                                    "cancels_only_until": entries_at.isoformat(),
                                    "waiting": r.count("WAITING")} if entries_at else {}),
                                r.broker_requests))
    finally:
        claims.close()
        db.close()  # also releases the advisory lock


def _dry_run(db_config: dict[str, Any], broker: Broker, settings: Settings, now: Clock,
             sleep: Callable[[float], None]) -> CycleReport:
    db = TradingDB(config=db_config, application_name="trading-monitor dry run",
                   read_only=True).connect()
    claims = TradingDB(config=db_config, application_name="trading-monitor dry run claims",
                       read_only=True).connect()
    try:
        run_id = new_run_id("order_executor")
        ex = Executor(db=db, claims=claims, broker=ReadOnlyBroker(guarded(db, broker, run_id)),
                      run_id=run_id, installation=installation_id(db),
                      config=executor_settings(settings), now=now, dry_run=True, sleep=sleep)
        return run_cycle(ex)
    finally:
        claims.close()
        db.close()


def _hours(value: Decimal | None) -> timedelta | None:
    return None if value is None else timedelta(hours=float(value))


def _minutes(value: Decimal | None) -> timedelta | None:
    return None if value is None else timedelta(minutes=float(value))
