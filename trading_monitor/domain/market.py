"""What the market looks like for one symbol, as the pre-trade checks need it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


@dataclass(frozen=True)
class MarketSnapshot:
    symbol: str
    last_price: Decimal | None = None
    last_trade_at: datetime | None = None
    bid: Decimal | None = None
    ask: Decimal | None = None
    daily_volume: Decimal | None = None
    daily_bar_date: date | None = None  # New York date of the daily bar
    previous_volume: Decimal | None = None

    @property
    def spread_pct(self) -> Decimal | None:
        """The quote's spread as a share of its midpoint, in per cent; None without a quote."""
        if not self.bid or not self.ask or self.bid <= 0 or self.ask < self.bid:
            return None
        mid = (self.bid + self.ask) / 2
        return (self.ask - self.bid) / mid * 100

    def last_session_volume(self, today: date) -> Decimal | None:
        """Volume of the last complete session.

        During a session the daily bar is today's and holds only the minutes so far, so the
        previous session's bar counts; before the open the daily bar is the last session's.
        """
        if self.daily_bar_date is not None and self.daily_bar_date >= today:
            return self.previous_volume
        return self.daily_volume
