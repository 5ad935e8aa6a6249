"""What a position-monitor cycle works with."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from trading_monitor.domain.trailing import DEFAULT_STEPS, Step, parse_steps
from trading_monitor.engine.context import Monitor


@dataclass(frozen=True)
class PositionSettings:
    data_feed: str = "iex"
    max_price_age: timedelta = timedelta(minutes=15)
    trailing_steps: tuple[Step, ...] = field(default_factory=lambda: parse_steps(DEFAULT_STEPS))
    reconcile_grace: timedelta = timedelta(seconds=60)
    external_protection: str = "stop"  # stop | alert
    emergency_stop_pct: Decimal = Decimal(5)
    max_daily_loss: Decimal | None = None
    max_drawdown_pct: Decimal | None = None
    incident_trades: int = 2  # RECONCILE_INCIDENT_TRADES
    incident_pct: Decimal = Decimal(30)  # RECONCILE_INCIDENT_PCT
    exit_working_alert: timedelta = timedelta(minutes=2)  # EXIT_WORKING_ALERT_SECONDS
    resting_stop_action: str = "close"  # RESTING_STOP_ACTION: close | alert
    halt_suspect: timedelta | None = timedelta(minutes=5)  # HALT_SUSPECT_MINUTES (None: off)
    halt_source: str = "both"  # HALT_SOURCE: statuses | prints | both (engine/symbol_halts.py)


@dataclass
class PositionMonitor:
    """The order monitor's context (its ledger, broker and protection machinery) plus the
    position monitor's own settings."""

    orders: Monitor
    config: PositionSettings
