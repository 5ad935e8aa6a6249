"""What one executor cycle works with, and the results a handler can return."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from trading_monitor.broker.base import Broker
from trading_monitor.broker.models import BrokerAsset
from trading_monitor.clock import Clock
from trading_monitor.db.connection import Row, TradingDB
from trading_monitor.domain.decision import Decision, TradeStyle
from trading_monitor.domain.lifecycle import TerminalState
from trading_monitor.domain.market_time import NEW_YORK
from trading_monitor.domain.risk import AccountView, RiskLimits, entry_rejection
from trading_monitor.engine.corporate_reads import entry_block, read_for_entry
from trading_monitor.ledger import Ledger
from trading_monitor.ledger.intents import IntentPlan, plan_for
from trading_monitor.order_executor.view import (
    AccountReading,
    pending_entry_symbols,
    read_account_view,
    record_start_of_day,
)


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
    """Not finished (a temporary failure): stays unexecuted and is settled next cycle.

    `contract`: the broker's answer broke our contract (a field we need is missing). Such a
    deferral is not counted against MAX_DEFERRALS; it ends SKIPPED at the close of the
    session its entry was meant for.
    """

    reason: str
    contract: bool = False


@dataclass(frozen=True)
class Previewed:
    """--dry-run: what would have been done; nothing was sent or written."""

    reason: str


@dataclass(frozen=True)
class Waiting:
    """Not finished, not failed: waits for its time (an AMEND whose old entry a woken cycle
    withdrew before EXECUTOR_TIME; its replacement goes out with the first full cycle). No
    deferral is counted, nothing is written for the decision."""

    reason: str


Result = Final | Deferred | Previewed | Waiting


@dataclass
class ExecutorSettings:
    limits: RiskLimits = field(default_factory=RiskLimits)
    protection_mode: str = "bracket"
    trading_halted: bool = False
    max_decision_age: timedelta | None = None
    max_unsent_delay: timedelta | None = None
    data_feed: str = "iex"
    cancel_settle_seconds: float = 3.0
    max_deferrals: int = 20
    # No DAYTRADE entry from the close minus this on (the order monitor flattens day trades
    # from then): it would fill after its flatten, or be carried overnight.
    eod_flatten_before_close: timedelta = timedelta(minutes=10)


@dataclass
class Executor:
    """`db` writes intents and commits them before anything is sent; `claims` holds the
    claimed decision's row lock, and everything after the intent (the broker's answer,
    the journal, the outcome) is written there, in one transaction per decision."""

    db: TradingDB
    claims: TradingDB
    broker: Broker
    run_id: str
    installation: str
    config: ExecutorSettings
    now: Clock
    dry_run: bool = False
    sleep: Callable[[float], None] = time.sleep
    _reading: AccountReading | None = None
    _view: AccountView | None = None
    _assets: dict[str, BrokerAsset | None] = field(default_factory=dict)
    _closes: dict[date, datetime | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.intents = Ledger(self.db, self.run_id, self.now)
        self.ledger = Ledger(self.claims, self.run_id, self.now)

    @property
    def limits(self) -> RiskLimits:
        return self.config.limits

    def view(self) -> AccountView:
        """Read once per cycle, when the first entry needs it (and recorded, unless dry)."""
        if self._view is None:
            self._reading = read_account_view(
                self.db, self.broker, trading_halted=self.config.trading_halted,
                market_data=self._wants_market_data(), feed=self.config.data_feed,
                cash_flows=self.limits.max_daily_loss is not None)
            if not self.dry_run:
                record_start_of_day(self.db, self.run_id, self._reading)
            self._view = self._reading.view
        return self._view

    def _wants_market_data(self) -> bool:
        lim = self.limits
        return any(v is not None for v in (lim.max_price_deviation_pct, lim.max_spread_pct,
                                           lim.min_daily_volume))

    def plan(self, d: Decision) -> IntentPlan:
        return plan_for(d, self.config.protection_mode, self.view().session_close)

    def sized(self, d: Decision) -> Decision:
        """A risk_pct decision turned into dollars with this cycle's equity."""
        return d.with_risk_budget(self.view().equity) if d.risk_pct is not None else d

    def asset_problem(self, symbol: str, side: str = "buy") -> str | None:
        """Why an entry on `side` must not go out in `symbol` (a short also needs the asset's
        borrow_status to be easy_to_borrow); one asset look-up per symbol and run."""
        if symbol not in self._assets:
            self._assets[symbol] = self.broker.get_asset(symbol)
        asset = self._assets[symbol]
        return (f"unknown symbol {symbol} at the broker" if asset is None
                else asset.problem(side))

    def entry_rejection(self, d: Decision, replacing: tuple[str, Decimal] | None = None
                        ) -> str | None:
        view = self.view()
        if view.halted_reason is None:  # no asset look-up when nothing may trade anyway
            view = replace(view, asset_problems={
                d.ticker: self.asset_problem(d.ticker, d.side.value if d.side else "buy")})
        if replacing is not None:
            view = view.without_entry(*replacing)
        rejection = entry_rejection(d, self.limits, view, replacing=replacing is not None)
        if rejection:
            return rejection
        day = self.now().astimezone(NEW_YORK).date()  # issue 21: corporate actions that day
        read_for_entry(self.db, self.broker, d.ticker, day, store=not self.dry_run,
                       waiting=lambda: pending_entry_symbols(self.db))
        return entry_block(self.db, d.ticker, day)

    def accept_entry(self, symbol: str, notional: Decimal) -> None:
        """Later decisions of this run see this entry in their exposure and position limits."""
        self._view = self.view().with_entry(symbol, notional)

    def stale_decision(self, d: Decision) -> str | None:
        """Why a fresh entry must not go out because the decision is too old, if it is."""
        limit = self.config.max_decision_age
        if limit is None or d.age is None or d.age <= limit:
            return None
        return (f"stale decision: written {_hours(d.age)} ago, older than "
                f"MAX_DECISION_AGE_HOURS={_hours(limit)}; not sent")

    def daytrade_too_late(self, d: Decision) -> str | None:
        """Why a DAYTRADE entry must not go out now: from today's flatten time (the close
        minus EOD_FLATTEN_MINUTES, from the broker's calendar) until the close."""
        if d.trade_style is not TradeStyle.DAYTRADE:
            return None
        now = self.now()
        today = now.astimezone(NEW_YORK).date()
        if today not in self._closes:  # one calendar read per run, and only for day trades
            days = self.broker.get_calendar(today, today)
            self._closes[today] = next((c.close for c in days if c.date == today), None)
        close = self._closes[today]
        # After the close the entry is for the next session, whose flatten time is ahead
        # (REJECT_DAY_ORDERS_WHEN_CLOSED and the entry's expiry decide about it).
        if close is None or not close - self.config.eod_flatten_before_close <= now < close:
            return None
        minutes = int(self.config.eod_flatten_before_close.total_seconds() // 60)
        return (f"DAYTRADE entry refused after today's flatten time "
                f"({(close - self.config.eod_flatten_before_close).astimezone(NEW_YORK):%H:%M}"
                f" New York, the close minus EOD_FLATTEN_MINUTES={minutes}): it could not be "
                "closed by the end of the day")

    def stale_intent(self, entry: Row) -> str | None:
        """Why an intent that never reached the broker must now be withdrawn, if it must."""
        limit = self.config.max_unsent_delay
        if limit is None:
            return None
        age = self.db.named("order_age", {"order_id": entry["id"], "now": self.now()})[0]["age"]
        if age <= limit:
            return None
        return (f"not sent: the order could not reach the broker within "
                f"MAX_UNSENT_ORDER_MINUTES={int(limit.total_seconds() // 60)} of "
                f"its intent ({_hours(age)} ago); stale orders are never sent")


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f}h"

