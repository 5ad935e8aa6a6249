"""What an order-monitor cycle works with."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from trading_monitor.broker.base import Broker
from trading_monitor.broker.models import AccountActivity, BrokerPosition
from trading_monitor.clock import Clock
from trading_monitor.db.connection import Row, TradingDB
from trading_monitor.domain.trade_state import ProtectionRules
from trading_monitor.ledger import Ledger
from trading_monitor.settings.config import Settings


@dataclass(frozen=True)
class MonitorSettings:
    rules: ProtectionRules = field(default_factory=ProtectionRules)
    cancel_settle_seconds: float = 3.0
    stop_failure_action: str = "flatten"  # flatten | retry
    eod_flatten: bool = True
    eod_flatten_before_close: timedelta = timedelta(minutes=10)
    flatten_untracked: bool = False
    orphan_grace: timedelta = timedelta(minutes=5)
    gtc_renew_before: timedelta = timedelta(days=5)
    # Positions lag orders: a position no trade explains is adopted only past this grace.
    reconcile_grace: timedelta = timedelta(seconds=60)
    # A stop cancelled by hand at the broker: no new one for this long (hand_cancel.py).
    hand_cancel_grace: timedelta = timedelta(0)
    # A position with no stop price yet (adopted before a fresh price existed): its stop is
    # priced EMERGENCY_STOP_PCT beyond the last trade once one is fresh (market_stop.py).
    data_feed: str = "iex"
    max_price_age: timedelta = timedelta(minutes=15)
    emergency_stop_pct: Decimal = Decimal(5)
    external_protection: str = "stop"  # stop | alert (EXTERNAL_POSITION_PROTECTION)


@dataclass
class Monitor:
    db: TradingDB
    broker: Broker
    run_id: str
    installation: str
    config: MonitorSettings
    now: Clock
    dry_run: bool = False
    sleep: Callable[[float], None] = time.sleep
    planned: list[str] = field(default_factory=list)  # what a dry run would have done
    # A dry run's sync, unwritten: order rows as the broker shows them, fills from the feed.
    pending_orders: dict[int, Row] = field(default_factory=dict)
    pending_fills: list[Row] = field(default_factory=list)
    # The broker's positions, read once per cycle when an order that closes shares is placed.
    positions: list[BrokerPosition] | None = None
    # Trades whose protection could not go out for a reason that passes in seconds (lagging
    # positions, a temporary error, an opposite order still working): the stream listener
    # settles them again soon instead of waiting for the next poll.
    retry_soon: set[int] = field(default_factory=set)
    # Alpaca's SPLIT and NC activities, read once per cycle when a close crosses a night
    # (corporate_hold.py).
    split_activities: list[AccountActivity] | None = None
    # Trades given a wash-safe OCO this cycle after their exit was refused (protect.py):
    # once per cycle, so a refused OCO cannot call for the refused exit again and again.
    wash_safe_tried: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.ledger = Ledger(self.db, self.run_id, self.now)

    def would(self, text: str) -> None:
        self.planned.append(f"dry run: would {text}")


def monitor_settings(settings: Settings) -> MonitorSettings:
    return MonitorSettings(
        rules=ProtectionRules(
            partial_entry_timeout=timedelta(seconds=settings.partial_entry_timeout_seconds)),
        cancel_settle_seconds=settings.cancel_settle_seconds,
        stop_failure_action=settings.stop_failure_action.value,
        eod_flatten=settings.eod_flatten,
        eod_flatten_before_close=timedelta(minutes=settings.eod_flatten_minutes),
        flatten_untracked=settings.flatten_untracked,
        orphan_grace=timedelta(minutes=settings.orphan_grace_minutes),
        gtc_renew_before=timedelta(days=settings.gtc_renew_days),
        reconcile_grace=timedelta(seconds=settings.reconcile_grace_seconds),
        hand_cancel_grace=timedelta(seconds=settings.hand_cancel_grace_seconds),
        data_feed=settings.alpaca_data_feed.value,
        max_price_age=timedelta(minutes=float(settings.max_price_age_minutes)),
        emergency_stop_pct=Decimal(settings.emergency_stop_pct),
        external_protection=settings.external_position_protection.value)
