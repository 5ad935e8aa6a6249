"""What one executor cycle works with, and the results a handler can return."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from trading_monitor.broker.base import Broker
from trading_monitor.db_layer import TradingDB
from trading_monitor.domain.decision import Decision
from trading_monitor.domain.lifecycle import TerminalState
from trading_monitor.domain.risk import AccountView, RiskLimits, entry_rejection
from trading_monitor.executor.books import installation_id
from trading_monitor.executor.view import build_view


@dataclass(frozen=True)
class Final:
    """The decision's one terminal state, written with executed = true."""

    state: TerminalState
    reason: str
    journal_id: int | None = None
    client_order_id: str | None = None
    set_order_id: str | None = None
    set_journal_id: int | None = None


@dataclass(frozen=True)
class Deferred:
    """Not finished (a temporary failure): stays unexecuted and is settled next cycle."""

    reason: str


@dataclass(frozen=True)
class Previewed:
    """--dry-run: what would have been done; nothing was sent or marked."""

    reason: str


Result = Final | Deferred | Previewed


@dataclass
class Executor:
    db: TradingDB  # work connection: intents and broker results, committed as they happen
    claims: TradingDB  # holds the claimed decision's row lock; writes the terminal state
    broker: Broker
    limits: RiskLimits
    protection_mode: str
    run_id: str
    trading_halted: bool = False
    dry_run: bool = False
    max_decision_age: timedelta | None = None
    max_unsent_delay: timedelta | None = None
    _view: AccountView | None = None
    _installation: str | None = None
    _assets: dict[str, str | None] = field(default_factory=dict)

    @property
    def installation(self) -> str:
        if self._installation is None:
            self._installation = installation_id(self.db)
        return self._installation

    def view(self) -> AccountView:
        if self._view is None:
            self._view = build_view(
                self.db, self.broker, self.run_id, trading_halted=self.trading_halted,
                price_check=self.limits.max_price_deviation_pct is not None)
        return self._view

    def asset_problem(self, symbol: str) -> str | None:
        if symbol not in self._assets:
            asset = self.broker.get_asset(symbol)
            self._assets[symbol] = (f"unknown symbol {symbol} at the broker" if asset is None
                                    else asset.problem())
        return self._assets[symbol]

    def entry_rejection(self, d: Decision, replacing: tuple[str, Decimal] | None = None
                        ) -> str | None:
        view = self.view()
        if view.halted_reason is None:  # no asset look-up when nothing may trade anyway
            view = replace(view, asset_problems={d.ticker: self.asset_problem(d.ticker)})
        if replacing is not None:
            view = view.without_entry(*replacing)
        return entry_rejection(d, self.limits, view, replacing=replacing is not None)

    def accept_entry(self, symbol: str, notional: Decimal) -> None:
        """Later decisions of this run see this entry in their exposure and position limits."""
        self._view = self.view().with_entry(symbol, notional)

    def stale_decision(self, d: Decision) -> str | None:
        """Why a fresh entry must not go out because the decision is too old, if it is."""
        written = d.written_at
        if self.max_decision_age is None or written is None:
            return None
        age = datetime.now(timezone.utc) - written
        if age <= self.max_decision_age:
            return None
        return (f"stale decision: written {_hours(age)} ago, older than "
                f"MAX_DECISION_AGE_HOURS={_hours(self.max_decision_age)}; not sent")

    def stale_intent(self, written: datetime) -> str | None:
        """Why an intent that never reached the broker must now be withdrawn, if it must."""
        if self.max_unsent_delay is None:
            return None
        age = datetime.now(timezone.utc) - written
        if age <= self.max_unsent_delay:
            return None
        return (f"not sent: the order could not reach the broker within "
                f"MAX_UNSENT_ORDER_MINUTES={int(self.max_unsent_delay.total_seconds() // 60)} of "
                f"its intent ({_hours(age)} ago); stale orders are never sent")


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f}h"
