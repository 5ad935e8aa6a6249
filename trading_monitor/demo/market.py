"""The demo's prices: a seeded random walk around a level that scripted moves shift.

Pure. Every symbol trades once a minute inside each session (the exchange's calendar, so no
prices on a holiday and none after 13:00 on a half day). Its price is
`base × level(t) × (1 + noise(t))`: the noise is a mean-reverting walk, seeded per symbol and
clipped to ±0.5%, so it never reaches a stop or a target on its own; the level only changes
through the scripted moves (a step at one minute, or a ramp over some minutes), which is how
the script makes a stop-out, a target hit, a gap or a trail step happen whatever the seed.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from trading_monitor.paper_exchange.clock import Session, session_for

CENT = Decimal("0.01")
NOISE_SIGMA = 0.0006  # per minute
NOISE_KEEP = 0.95  # how much of the last minute's noise remains (mean reversion)
NOISE_CLIP = 0.005


@dataclass(frozen=True)
class Move:
    symbol: str
    at: datetime  # aware; the move starts at this minute
    pct: Decimal  # the level changes by this fraction (-0.06 = 6% lower)
    minutes: int = 0  # 0: a step; else a straight ramp over this many minutes


def trading_sessions(first: date, count: int) -> list[Session]:
    """`count` sessions from `first` on, as the paper exchange's calendar has them."""
    out: list[Session] = []
    day = first
    while len(out) < count:
        session = session_for(day)
        if session is not None:
            out.append(session)
        day += timedelta(days=1)
    return out


def session_minutes(session: Session) -> list[datetime]:
    span = int((session.close - session.open).total_seconds() // 60)
    return [session.open + timedelta(minutes=k) for k in range(span)]


class PricePath:
    """Every minute's price of every symbol over the sessions (computed once)."""

    def __init__(self, seed: int, bases: dict[str, Decimal], sessions: list[Session],
                 moves: list[Move]):
        self.minutes = [m for s in sessions for m in session_minutes(s)]
        self._moves = moves
        self.prices: dict[str, list[Decimal]] = {
            symbol: self._walk(seed, symbol, base) for symbol, base in sorted(bases.items())}

    def _level(self, symbol: str, at: datetime) -> float:
        level = 1.0
        for move in (m for m in self._moves if m.symbol == symbol and at >= m.at):
            done = 1.0 if move.minutes == 0 else min(
                1.0, (at - move.at).total_seconds() / 60 / move.minutes)
            level *= 1 + float(move.pct) * done
        return level

    def _walk(self, seed: int, symbol: str, base: Decimal) -> list[Decimal]:
        rng = random.Random(f"demo:{seed}:{symbol}")
        noise, out = 0.0, []
        for minute in self.minutes:
            noise = max(-NOISE_CLIP, min(NOISE_CLIP,
                                         NOISE_KEEP * noise + rng.gauss(0.0, NOISE_SIGMA)))
            price = float(base) * self._level(symbol, minute) * (1 + noise)
            out.append(Decimal(str(price)).quantize(CENT))
        return out

    def price_at(self, symbol: str, at: datetime) -> Decimal:
        """The last price printed at or before `at` (the first one before the first)."""
        index = bisect.bisect_right(self.minutes, at) - 1
        return self.prices[symbol][max(0, index)]

    def points(self) -> list[dict[str, str]]:
        """The path as the exchange's scenario file wants it ({at, symbol, price}), minute by
        minute. Within a minute a symbol whose scripted move starts then prints first: the
        exchange matches after every price, so a jump printed after another symbol's price
        would let an order trade once more on the stale price."""
        starts = {(m.symbol, m.at) for m in self._moves}
        return [{"at": minute.isoformat(), "symbol": symbol, "price": str(self.prices[symbol][k])}
                for k, minute in enumerate(self.minutes)
                for symbol in sorted(self.prices, key=lambda s: ((s, minute) not in starts, s))]
