"""Market time: the New York zone the US equity market keeps, and its regular session.

One definition for every job. A trading day is a New York date (a fill at 20:30 UTC on a
winter Monday is Monday's; at 01:00 UTC on Tuesday it is still Monday's). The session's
times are the regular ones; the broker's calendar says which days trade and which close
early (daemon/schedule.TradingCalendar, engine/session.py).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
SESSION_OPEN = time(9, 30)
SESSION_CLOSE = time(16, 0)
HALF_DAY_CLOSE = time(13, 0)  # the day after Thanksgiving, Christmas Eve, ...


def new_york_date(moment: datetime) -> date:
    """The trading day an aware moment falls on."""
    if moment.tzinfo is None:
        raise ValueError("a naive time has no trading day: give it a zone")
    return moment.astimezone(NEW_YORK).date()


def new_york_time(day: date, at: time = time(0, 0)) -> datetime:
    """The aware moment of a New York wall-clock time on `day` (EST or EDT as that day keeps)."""
    return datetime.combine(day, at, NEW_YORK)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """A New York day, midnight to midnight, aware (23 or 25 hours on a DST change)."""
    return new_york_time(day), new_york_time(day + timedelta(days=1))
