"""The executor as a service: give it a database config, a broker and settings; it runs a cycle."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from trading_monitor.broker.base import Broker
from trading_monitor.config import Settings
from trading_monitor.db_layer import TradingDB
from trading_monitor.domain.risk import RiskLimits
from trading_monitor.executor.context import Executor
from trading_monitor.executor.cycle import CycleReport, run_cycle
from trading_monitor.runs import JobRun


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
    )


def execute_once(db_config: dict[str, Any], broker: Broker, settings: Settings, *,
                 dry_run: bool = False, mode: str | None = None) -> CycleReport:
    """One cycle with its own two connections and its own job_run row."""
    db = TradingDB(config=db_config, application_name="trading-monitor executor").connect()
    claims = TradingDB(config=db_config, application_name="trading-monitor claims").connect()
    job = JobRun(db, "order_executor", mode or ("dry_run" if dry_run else "normal")).start()
    start = broker.requests_sent
    try:
        ex = Executor(db=db, claims=claims, broker=broker, limits=limits_from(settings),
                      protection_mode=settings.protection_mode.value, run_id=job.run_id,
                      trading_halted=settings.trading_halted, dry_run=dry_run,
                      max_decision_age=_hours(settings.max_decision_age_hours),
                      max_unsent_delay=_minutes(settings.max_unsent_order_minutes))
        report = run_cycle(ex)
    except BaseException as exc:
        job.finish("FAILED", error=f"{type(exc).__name__}: {exc}"[:2000],
                   broker_requests=broker.requests_sent - start)
        raise
    finally:
        claims.close()
    job.summary = report.summary | {"run_id": job.run_id}
    job.finish("PARTIAL" if report.count("DEFERRED") else "SUCCEEDED",
               broker_requests=report.broker_requests)
    db.close()
    return report


def _hours(value: Decimal | None) -> timedelta | None:
    return None if value is None else timedelta(hours=float(value))


def _minutes(value: Decimal | None) -> timedelta | None:
    return None if value is None else timedelta(minutes=float(value))
