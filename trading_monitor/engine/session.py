"""Today's session as the broker's calendar has it: the close, and the flatten time before it."""

from __future__ import annotations

from datetime import date, datetime

from trading_monitor.domain.market_time import NEW_YORK as NEW_YORK  # re-exported: housekeeping
from trading_monitor.domain.market_time import new_york_date
from trading_monitor.engine.context import Monitor


def session_close(m: Monitor, day: date) -> datetime | None:
    """Today's close from the broker's calendar (a half day closes at 13:00), read once per
    day and kept in system_state; None on a day the market is shut."""
    key = f"session_close:{day.isoformat()}"
    rows = m.db.named("system_value", {"key": key})
    if rows:
        value = rows[0]["value"]
        return datetime.fromisoformat(value) if value else None
    days = m.broker.get_calendar(day, day)
    close = next((d.close for d in days if d.date == day), None)
    if not m.dry_run:
        m.db.named_update("set_system_value", {
            "key": key, "value": close.isoformat() if close else "",
            "reason": "the broker's calendar"})
    return close


def todays_close(m: Monitor) -> datetime | None:
    return session_close(m, new_york_date(m.now()))


def flatten_time(m: Monitor, close: datetime) -> datetime:
    """From here to the close no DAYTRADE entry goes out, and day trades are flattened."""
    return close - m.config.eod_flatten_before_close
