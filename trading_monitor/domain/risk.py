"""Pre-trade checks: pure functions over a snapshot of the account and our own books.

Each check is switched by a setting and returns a human-readable reason when it fails.
The snapshot is updated after every accepted entry, so limits count earlier decisions of
the same run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal

from trading_monitor.domain.decision import Decision, Side
from trading_monitor.domain.market import MarketSnapshot
from trading_monitor.domain.short_side import buying_power_needed


@dataclass(frozen=True)
class RiskLimits:
    max_notional_per_order: Decimal | None = None
    max_open_positions: int | None = None
    max_total_exposure: Decimal | None = None
    max_daily_loss: Decimal | None = None
    check_buying_power: bool = True
    check_price_consistency: bool = True
    block_duplicate_entry: bool = True
    block_same_day_reentry: bool = True
    reject_day_orders_when_closed: bool = False
    max_price_deviation_pct: Decimal | None = None
    max_spread_pct: Decimal | None = None
    min_daily_volume: Decimal | None = None


@dataclass(frozen=True)
class AccountView:
    """What the checks need to know, gathered once per cycle."""

    equity: Decimal
    buying_power: Decimal
    # The day's loss baseline: the previous close plus today's net deposits (engine/snapshots.py).
    start_of_day_equity: Decimal | None
    open_symbols: frozenset[str] = frozenset()
    open_count: int = 0
    exposure: Decimal = Decimal(0)
    closed_today: frozenset[str] = frozenset()
    halted_reason: str | None = None
    market_open: bool = True
    # symbol -> None when tradable, else why not (unknown, inactive, not tradable)
    asset_problems: dict[str, str | None] = field(default_factory=dict)
    market: dict[str, MarketSnapshot] = field(default_factory=dict)
    trading_day: date | None = None
    session_close: datetime | None = None  # the close of the session a DAY order is for

    def with_entry(self, symbol: str, notional: Decimal) -> AccountView:
        return replace(
            self,
            open_symbols=self.open_symbols | {symbol},
            open_count=self.open_count + (0 if symbol in self.open_symbols else 1),
            exposure=self.exposure + notional,
            buying_power=self.buying_power - notional,
        )

    def without_entry(self, symbol: str, notional: Decimal) -> AccountView:
        """The view as if an entry being amended away were gone (it is about to be replaced)."""
        return replace(
            self,
            open_symbols=self.open_symbols - {symbol},
            open_count=max(0, self.open_count - (1 if symbol in self.open_symbols else 0)),
            exposure=max(Decimal(0), self.exposure - notional),
            buying_power=self.buying_power + notional,
        )


def price_problem(d: Decision) -> str | None:
    """Stop and take profit on the right side of the entry (ticks are the contract's job)."""
    assert d.entry_price is not None and d.stop_loss is not None
    qty = d.order_quantity
    if qty <= 0:
        return f"quantity must be positive (got {qty})"
    long = d.side is Side.BUY
    if long and d.stop_loss >= d.entry_price:
        return f"stop_loss {d.stop_loss} must be below entry {d.entry_price} for a buy"
    if not long and d.stop_loss <= d.entry_price:
        return f"stop_loss {d.stop_loss} must be above entry {d.entry_price} for a sell"
    if d.take_profit is not None:
        if long and d.take_profit <= d.entry_price:
            return f"take_profit {d.take_profit} must be above entry {d.entry_price} for a buy"
        if not long and d.take_profit >= d.entry_price:
            return f"take_profit {d.take_profit} must be below entry {d.entry_price} for a sell"
    return None


def size_problem(d: Decision) -> str | None:
    """A risk budget that buys no whole share, with the figures (never sent as 0 shares)."""
    if d.order_quantity > 0:
        return None
    assert d.entry_price is not None and d.stop_loss is not None
    per_share = abs(d.entry_price - d.stop_loss)
    return (f"position size rounds to 0 shares: risk budget {d.risk_amount} over a per-share "
            f"risk of {per_share} (entry {d.entry_price}, stop {d.stop_loss})")


# Alpaca's non-trade activities that move money in (CSD) or out (CSW) of the account.
CASH_FLOW_TYPES = frozenset({"CSD", "CSW"})


def net_cash_flow(activities: Iterable[tuple[str, Decimal]]) -> Decimal:
    """Deposits less withdrawals from (activity_type, net_amount) pairs; other types are
    ignored. A CSW counts as money out whichever sign its net_amount carries."""
    total = Decimal(0)
    for kind, amount in activities:
        if kind == "CSD":
            total += abs(amount)
        elif kind == "CSW":
            total -= abs(amount)
    return total


def daily_loss(view: AccountView) -> Decimal:
    if view.start_of_day_equity is None:
        return Decimal(0)
    return view.start_of_day_equity - view.equity


def entry_rejection(d: Decision, limits: RiskLimits, view: AccountView,
                    *, replacing: bool = False) -> str | None:
    """The first reason this entry must not go out, or None. `replacing` is set for AMEND."""
    if view.halted_reason:
        return f"trading halted: {view.halted_reason}"
    if limits.max_daily_loss is not None and daily_loss(view) >= limits.max_daily_loss:
        return (f"daily loss limit reached: down {daily_loss(view):.2f} from start-of-day "
                f"equity {view.start_of_day_equity} (limit {limits.max_daily_loss})")
    asset_problem = view.asset_problems.get(d.ticker)
    if asset_problem:
        return asset_problem
    size = size_problem(d)
    if size:
        return size
    if limits.check_price_consistency:
        problem = price_problem(d)
        if problem:
            return f"inconsistent prices: {problem}"
    market = price_deviation_problem(d, limits, view) or liquidity_problem(d, limits, view)
    if market:
        return market
    notional = d.notional
    if limits.max_notional_per_order is not None and notional > limits.max_notional_per_order:
        return (f"order notional {notional:.2f} exceeds MAX_NOTIONAL_PER_ORDER "
                f"{limits.max_notional_per_order}")
    if not replacing:
        if limits.block_duplicate_entry and d.ticker in view.open_symbols:
            return f"duplicate entry: {d.ticker} already has an open trade or position"
        if limits.block_same_day_reentry and d.ticker in view.closed_today:
            return f"re-entry blocked: {d.ticker} was closed earlier today"
        if limits.max_open_positions is not None and view.open_count >= limits.max_open_positions:
            return (f"max open positions reached ({view.open_count} of "
                    f"{limits.max_open_positions})")
    if (limits.max_total_exposure is not None
            and view.exposure + notional > limits.max_total_exposure):
        return (f"total exposure {view.exposure + notional:.2f} would exceed "
                f"MAX_TOTAL_EXPOSURE {limits.max_total_exposure}")
    needed, how = buying_power_needed(d, view.market.get(d.ticker))  # shorts: Alpaca's rule
    if limits.check_buying_power and needed > view.buying_power:
        return f"insufficient buying power: order needs {how}, " \
               f"account has {view.buying_power:.2f}"
    if (limits.reject_day_orders_when_closed and not view.market_open
            and d.order_time_in_force.value == "day"):
        return "market is closed and REJECT_DAY_ORDERS_WHEN_CLOSED is set (day order)"
    return None


def price_deviation_problem(d: Decision, limits: RiskLimits, view: AccountView) -> str | None:
    """A fat-finger guard: the entry limit far from the last trade (skipped without a price)."""
    snapshot = view.market.get(d.ticker)
    last = snapshot.last_price if snapshot else None
    if limits.max_price_deviation_pct is None or not last or d.entry_price is None:
        return None
    pct = abs(d.entry_price - last) / last * 100
    if pct <= limits.max_price_deviation_pct:
        return None
    return (f"entry {d.entry_price} is {pct:.1f}% away from the last trade {last} "
            f"(MAX_PRICE_DEVIATION_PCT {limits.max_price_deviation_pct})")


def liquidity_problem(d: Decision, limits: RiskLimits, view: AccountView) -> str | None:
    """Seed 003's liquidity guard: too wide a spread or too thin a last session.

    Each half is off when its limit is unset. Missing data is refused, not waved through:
    a guard the trader switched on must not pass a symbol it cannot see.
    """
    if limits.max_spread_pct is None and limits.min_daily_volume is None:
        return None
    snap = view.market.get(d.ticker)
    if snap is None:
        return f"liquidity guard: no market snapshot for {d.ticker}"
    if limits.max_spread_pct is not None:
        spread = snap.spread_pct
        if spread is None:
            return (f"liquidity guard: no usable quote for {d.ticker} "
                    f"(bid {snap.bid}, ask {snap.ask})")
        if spread > limits.max_spread_pct:
            return (f"liquidity guard: spread {spread:.2f}% (bid {snap.bid}, ask {snap.ask}) is "
                    f"wider than MAX_SPREAD_PCT {limits.max_spread_pct}")
    if limits.min_daily_volume is not None and view.trading_day is not None:
        volume = snap.last_session_volume(view.trading_day)
        if volume is None or volume < limits.min_daily_volume:
            return (f"liquidity guard: last session volume {volume} of {d.ticker} is below "
                    f"MIN_DAILY_VOLUME {limits.min_daily_volume}")
    return None
