"""Simulated time and the NYSE trading calendar."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

NY = ZoneInfo("America/New_York")
OPEN_TIME = (9, 30)
CLOSE_TIME = (16, 0)
HALF_DAY_CLOSE = (13, 0)

# Tabled rather than computed: NYSE's observance rules have one-off exceptions (e.g. the
# 2025-01-09 national day of mourning) that no rule reproduces.
HOLIDAYS = frozenset(
    date.fromisoformat(d)
    for d in (
        "2025-01-01", "2025-01-09", "2025-01-20", "2025-02-17", "2025-04-18", "2025-05-26",
        "2025-06-19", "2025-07-04", "2025-09-01", "2025-11-27", "2025-12-25",
        "2026-01-01", "2026-01-19", "2026-02-16", "2026-04-03", "2026-05-25", "2026-06-19",
        "2026-07-03", "2026-09-07", "2026-11-26", "2026-12-25",
        "2027-01-01", "2027-01-18", "2027-02-15", "2027-03-26", "2027-05-31", "2027-06-18",
        "2027-07-05", "2027-09-06", "2027-11-25", "2027-12-24",
    )
)
HALF_DAYS = frozenset(
    date.fromisoformat(d)
    for d in ("2025-07-03", "2025-11-28", "2025-12-24", "2026-11-27", "2026-12-24", "2027-11-26")
)
CALENDAR_FIRST = date(2025, 1, 1)
CALENDAR_LAST = date(2027, 12, 31)


@dataclass(frozen=True)
class Session:
    day: date
    open: datetime  # aware, America/New_York
    close: datetime


def is_trading_day(day: date) -> bool:
    return day.weekday() < 5 and day not in HOLIDAYS


def session_for(day: date) -> Session | None:
    if not is_trading_day(day):
        return None
    close = HALF_DAY_CLOSE if day in HALF_DAYS else CLOSE_TIME
    return Session(
        day,
        datetime(day.year, day.month, day.day, *OPEN_TIME, tzinfo=NY),
        datetime(day.year, day.month, day.day, *close, tzinfo=NY),
    )


def sessions_between(first: date, last: date) -> list[Session]:
    out = []
    day = first
    while day <= last:
        session = session_for(day)
        if session is not None:
            out.append(session)
        day += timedelta(days=1)
    return out


def is_open(at: datetime) -> bool:
    session = session_for(at.astimezone(NY).date())
    return session is not None and session.open <= at < session.close


def current_or_next_session(at: datetime) -> Session:
    """The session `at` falls in, or the next one to open if the market is closed."""
    day = at.astimezone(NY).date()
    for _ in range(30):
        session = session_for(day)
        if session is not None and at < session.close:
            return session
        day += timedelta(days=1)
    raise ValueError(f"no session within 30 days of {at}")  # pragma: no cover


def next_open(at: datetime) -> datetime:
    day = at.astimezone(NY).date()
    for _ in range(30):
        session = session_for(day)
        if session is not None and session.open > at:
            return session.open
        day += timedelta(days=1)
    raise ValueError(f"no session within 30 days of {at}")  # pragma: no cover


def latest_session(at: datetime) -> Session:
    """The session under way at `at`, or else the last one that opened before it."""
    day = at.astimezone(NY).date()
    for _ in range(30):
        session = session_for(day)
        if session is not None and session.open <= at:
            return session
        day -= timedelta(days=1)
    raise ValueError(f"no session within 30 days before {at}")  # pragma: no cover


def previous_session(day: date) -> Session:
    """The last session before `day`."""
    for _ in range(30):
        day -= timedelta(days=1)
        session = session_for(day)
        if session is not None:
            return session
    raise ValueError(f"no session within 30 days before {day}")  # pragma: no cover


def next_close(at: datetime) -> datetime:
    return current_or_next_session(at).close


GTC_DAYS = 90
GTC_CANCEL_TIME = (16, 15)


def expiry(time_in_force: str, at: datetime) -> datetime:
    """When an order submitted at `at` stops working.

    Day orders: the close of the session they are good for. GTC orders: Alpaca's aged-order
    policy, 90 days after creation at 16:15 New York time (third-party wording, unconfirmed).
    """
    if time_in_force == "day":
        return next_close(at)
    day = at.astimezone(NY).date() + timedelta(days=GTC_DAYS)
    return datetime(day.year, day.month, day.day, *GTC_CANCEL_TIME, tzinfo=NY)


def boundaries_between(start: datetime, end: datetime) -> list[datetime]:
    """Session opens and closes in (start, end], oldest first."""
    out: list[datetime] = []
    for session in sessions_between(start.astimezone(NY).date(), end.astimezone(NY).date()):
        out.extend(t for t in (session.open, session.close) if start < t <= end)
    return out


def utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("naive datetimes are ambiguous; pass an aware datetime")
    return at.astimezone(timezone.utc)


class SimClock:
    """Time as the exchange sees it.

    "stepped" only moves when told to, so tests are deterministic; "realtime" and
    "accelerated" track the wall clock (scaled by `speed`) from the starting moment.
    """

    MODES = ("stepped", "realtime", "accelerated")

    def __init__(
        self,
        start: datetime,
        mode: str = "stepped",
        speed: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if mode not in self.MODES:
            raise ValueError(f"clock_mode must be one of {self.MODES}")
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.mode = mode
        self.speed = speed if mode == "accelerated" else 1.0
        self._monotonic = monotonic
        self._anchor_sim = utc(start)
        self._anchor_real = monotonic()

    def now(self) -> datetime:
        if self.mode == "stepped":
            return self._anchor_sim
        elapsed = (self._monotonic() - self._anchor_real) * self.speed
        return self._anchor_sim + timedelta(seconds=elapsed)

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the clock only moves forward; use set() to jump back")
        self._anchor_sim += timedelta(seconds=seconds)
        return self.now()

    def set(self, at: datetime) -> datetime:
        self._anchor_sim = utc(at)
        self._anchor_real = self._monotonic()
        return self.now()
