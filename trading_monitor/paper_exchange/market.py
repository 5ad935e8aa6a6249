"""Prices: a seeded random walk per symbol, overridden by scenario files and the control API."""

from __future__ import annotations

import csv
import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from trading_monitor.paper_exchange.clock import utc

CENT = Decimal("0.01")
# Roughly where these traded in late 2025; only the order of magnitude matters.
BASE_PRICES: dict[str, Decimal] = {
    "AAPL": Decimal("230.00"), "MSFT": Decimal("420.00"), "NVDA": Decimal("180.00"),
    "AMZN": Decimal("220.00"), "GOOGL": Decimal("250.00"), "META": Decimal("700.00"),
    "TSLA": Decimal("400.00"), "SPY": Decimal("660.00"), "QQQ": Decimal("590.00"),
    "IWM": Decimal("240.00"), "JPM": Decimal("300.00"), "AMD": Decimal("160.00"),
    "HALT": Decimal("10.00"),
}
# Shares traded in a session, roughly these names' daily volumes in late 2025 (snapshots'
# dailyBar/prevDailyBar `v`); scenario symbols get FALLBACK_VOLUME.
DAILY_VOLUMES: dict[str, int] = {
    "AAPL": 50_000_000, "MSFT": 20_000_000, "NVDA": 180_000_000, "AMZN": 40_000_000,
    "GOOGL": 30_000_000, "META": 12_000_000, "TSLA": 90_000_000, "SPY": 60_000_000,
    "QQQ": 40_000_000, "IWM": 30_000_000, "JPM": 9_000_000, "AMD": 45_000_000,
    "HALT": 0,
}
FALLBACK_VOLUME = 5_000_000
# Per-minute log-return volatility: ~0.08%/min is a calm large-cap day.
MINUTE_SIGMA = 0.0008
MAX_WALK_STEPS = 2000


@dataclass(frozen=True)
class ScenarioPoint:
    at: datetime
    symbol: str
    price: Decimal


def load_scenario(path: str | Path) -> list[ScenarioPoint]:
    """Read a scenario: JSON list of {at, symbol, price} or CSV with an at,symbol,price header."""
    text = Path(path).read_text(encoding="utf-8")
    rows: list[dict[str, str]]
    if str(path).lower().endswith(".csv"):
        rows = list(csv.DictReader(text.splitlines()))
    else:
        loaded = json.loads(text)
        rows = loaded["prices"] if isinstance(loaded, dict) else loaded
    points = [
        ScenarioPoint(
            utc(datetime.fromisoformat(str(row["at"]).replace("Z", "+00:00"))),
            str(row["symbol"]).upper(),
            Decimal(str(row["price"])).quantize(CENT),
        )
        for row in rows
    ]
    for point in points:
        if point.price <= 0:
            raise ValueError(f"scenario price must be positive: {point}")
    return sorted(points, key=lambda p: p.at)


class Market:
    """Last trade price per symbol plus the tick history bars are built from."""

    def __init__(
        self, seed: int, now: datetime, scenario: list[ScenarioPoint] | None = None
    ) -> None:
        self.prices: dict[str, Decimal] = dict(BASE_PRICES)
        self.pinned: set[str] = set()
        self._rngs = {s: random.Random(f"{seed}:{s}") for s in BASE_PRICES}
        self.pending: list[ScenarioPoint] = []
        seeded: set[str] = set()
        for point in scenario or []:
            # Scenario symbols never walk: the file is the whole truth about them.
            self.pinned.add(point.symbol)
            if point.at <= now:
                self.prices[point.symbol] = point.price
                seeded.add(point.symbol)
            else:
                if point.symbol not in seeded:
                    # Before its first point a symbol already trades at that first price.
                    self.prices[point.symbol] = point.price
                    seeded.add(point.symbol)
                self.pending.append(point)
        self.history: dict[str, list[tuple[datetime, Decimal]]] = {
            s: [(now, p)] for s, p in self.prices.items()
        }
        self.previous_close: dict[str, Decimal] = dict(self.prices)
        self.start = now
        # set_quote: the quote's distance below/above the last trade, and when it was set.
        self.quote_offsets: dict[str, tuple[Decimal, Decimal, datetime]] = {}
        self.volumes: dict[str, tuple[int, int]] = {}  # set_volume: (daily, previous)
        # Halted symbols (halts.py): no print; the last price given meanwhile waits here.
        self.frozen: dict[str, Decimal | None] = {}

    def knows(self, symbol: str) -> bool:
        return symbol in self.prices

    def price(self, symbol: str) -> Decimal:
        return self.prices[symbol]

    def set_price(self, symbol: str, price: Decimal, at: datetime) -> None:
        if price <= 0:
            raise ValueError("price must be positive")
        self.pinned.add(symbol)
        price = price.quantize(CENT)
        if symbol in self.frozen:
            self.frozen[symbol] = price  # halted: it prints at the reopen
            return
        if at == self.start and self.history.get(symbol) == [(at, self.prices[symbol])]:
            # Before time has moved, the first price given is the starting price (and so
            # also the previous close), as a scenario point at the start time would be.
            self.prices[symbol] = self.previous_close[symbol] = price
            self.history[symbol] = [(at, price)]
            return
        self._record(symbol, price, at)

    def set_start_price(self, symbol: str, price: Decimal) -> None:
        """Before time has moved: `symbol` starts at `price` (its previous close too) and
        walks from there, as from a BASE_PRICES entry (set_price would pin it)."""
        if self.history.get(symbol) != [(self.start, self.prices.get(symbol))]:
            raise ValueError(f"{symbol} has traded already; its start price is set")
        price = price.quantize(CENT)
        self.prices[symbol] = self.previous_close[symbol] = price
        self.history[symbol] = [(self.start, price)]

    def set_quote(self, symbol: str, bid: Decimal | None, ask: Decimal | None,
                  at: datetime) -> None:
        if bid is None or ask is None:
            self.quote_offsets.pop(symbol, None)
            return
        if bid <= 0 or ask < bid:
            raise ValueError("a quote needs 0 < bid <= ask")
        price = self.prices[symbol]
        self.quote_offsets[symbol] = (price - bid, ask - price, at)

    def quote(self, symbol: str) -> tuple[Decimal, Decimal, datetime | None]:
        """Bid, ask and (if set by set_quote) when; by default the last trade ± 0.01."""
        price = self.prices[symbol]
        below, above, at = self.quote_offsets.get(symbol, (CENT, CENT, None))
        return max(CENT, price - below), max(CENT, price + above), at

    def set_volume(self, symbol: str, daily: int | None, previous: int | None) -> None:
        old_daily, old_previous = self.volume(symbol)
        for value in (daily, previous):
            if value is not None and value < 0:
                raise ValueError("volumes must be >= 0")
        self.volumes[symbol] = (old_daily if daily is None else daily,
                                old_previous if previous is None else previous)

    def volume(self, symbol: str) -> tuple[int, int]:
        """Shares traded in the latest session and in the one before it."""
        default = DAILY_VOLUMES.get(symbol, FALLBACK_VOLUME)
        return self.volumes.get(symbol, (default, default))

    def _record(self, symbol: str, price: Decimal, at: datetime) -> None:
        self.prices[symbol] = price
        self.previous_close.setdefault(symbol, price)
        self.history.setdefault(symbol, []).append((at, price))

    def due_points(self, until: datetime) -> list[ScenarioPoint]:
        due = [p for p in self.pending if p.at <= until]
        self.pending = [p for p in self.pending if p.at > until]
        return due

    def apply_point(self, point: ScenarioPoint) -> None:
        if point.symbol in self.frozen:
            self.frozen[point.symbol] = point.price
            return
        self._record(point.symbol, point.price, point.at)

    def walk_step(self, minute: datetime) -> None:
        """One random-walk step for every unpinned symbol."""
        for symbol, rng in self._rngs.items():
            if symbol in self.pinned or symbol in self.frozen:
                continue
            step = Decimal(str(math.exp(rng.gauss(0.0, MINUTE_SIGMA))))
            self._record(symbol, max(CENT, (self.prices[symbol] * step).quantize(CENT)), minute)

    def mark_close(self) -> None:
        self.previous_close = dict(self.prices)


def open_minutes_between(
    start: datetime, end: datetime, is_open_at: Callable[[datetime], bool]
) -> list[datetime]:
    """Whole minutes in (start, end] at which the market is open, capped to the latest ones."""
    first = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    span = int((end - first).total_seconds() // 60) + 1
    if span <= 0:
        return []
    # Beyond a couple of trading weeks nobody needs every intermediate tick.
    span_start = max(0, span - MAX_WALK_STEPS * 8)
    minutes = (first + timedelta(minutes=i) for i in range(span_start, span))
    return [m for m in minutes if is_open_at(m)][-MAX_WALK_STEPS:]
