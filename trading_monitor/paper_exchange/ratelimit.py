"""Alpaca's per-account request budget (200/min by default) as a token bucket."""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class TokenBucket:
    def __init__(self, per_min: int | None, monotonic: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self._monotonic = monotonic
        self._wall = wall
        self.configure(per_min)

    def configure(self, per_min: int | None) -> None:
        if per_min is not None and per_min <= 0:
            raise ValueError("per_min must be positive or None")
        self.per_min = per_min
        self.tokens = float(per_min or 0)
        self._last = self._monotonic()

    def _refill(self) -> None:
        if self.per_min is None:
            return
        now = self._monotonic()
        self.tokens = min(float(self.per_min), self.tokens + (now - self._last) * self.per_min / 60)
        self._last = now

    def take(self) -> bool:
        """Spend one token; False means the request must be answered 429."""
        if self.per_min is None:
            return True
        self._refill()
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def retry_after(self) -> int:
        if self.per_min is None:
            return 0
        return max(1, math.ceil((1 - self.tokens) * 60 / self.per_min))

    def headers(self) -> dict[str, str]:
        limit = self.per_min or 0
        # Alpaca always sends these; with the limiter off they still describe "no limit hit".
        remaining = int(self.tokens) if self.per_min is not None else 0
        seconds_to_full = 0.0
        if self.per_min is not None:
            seconds_to_full = (self.per_min - self.tokens) * 60 / self.per_min
        return {
            "X-Ratelimit-Limit": str(limit),
            "X-Ratelimit-Remaining": str(max(0, remaining)),
            "X-Ratelimit-Reset": str(math.ceil(self._wall() + seconds_to_full)),
        }
