"""The trading calendar (`daemon/schedule.py`) as a specification: which scheduled run may go
ahead at a given moment, from the broker's calendar of sessions (holidays are missing days,
half days close at 13:00), and when each job's trigger fires, in New York time.

The week of Thanksgiving 2026: Monday the 23rd a full session; Thursday the 26th a holiday
(the broker's calendar has no session); Friday the 27th a half day.
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest

from trading_monitor.broker.models import CalendarDay
from trading_monitor.daemon.schedule import (
    AT_TIME,
    FLATTEN,
    INTRADAY,
    JobSpec,
    TradingCalendar,
    job_specs,
)
from trading_monitor.settings.config import load_settings

NY = ZoneInfo("America/New_York")
MON, THANKSGIVING, HALF_DAY = date(2026, 11, 23), date(2026, 11, 26), date(2026, 11, 27)
JULY_MON = date(2026, 7, 6)


def _session(day: date, close: time = time(16, 0)) -> CalendarDay:
    return CalendarDay(day, datetime.combine(day, time(9, 30), NY),
                       datetime.combine(day, close, NY))


SESSIONS = [_session(MON), _session(date(2026, 11, 24)), _session(date(2026, 11, 25)),
            _session(HALF_DAY, time(13, 0)), _session(JULY_MON)]


def broker_calendar(start: date, end: date) -> list[CalendarDay]:
    """The broker's calendar as GET /v2/calendar gives it: only the days that trade."""
    return [s for s in SESSIONS if start <= s.date <= end]


def ny(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), NY)


def _spec(kind: str) -> JobSpec:
    return JobSpec(f"a {kind} job", kind, None, kind, "order_monitor")


@pytest.mark.parametrize("kind, moment, allowed", [
    pytest.param(INTRADAY, ny(MON, 9, 30), True, id="the monitors run at the open, 9:30"),
    pytest.param(INTRADAY, ny(MON, 9, 29), False, id="nothing intraday runs before the open"),
    pytest.param(INTRADAY, ny(MON, 16, 0), True, id="the run due at the close goes ahead"),
    pytest.param(INTRADAY, ny(MON, 16, 2), True,
                 id="a run due at the close that fires a moment late is still today's"),
    pytest.param(INTRADAY, ny(MON, 16, 5), False, id="nothing intraday runs after the close"),
    pytest.param(INTRADAY, ny(THANKSGIVING, 10, 0), False,
                 id="nothing runs on Thanksgiving: the market is shut"),
    pytest.param(AT_TIME, ny(THANKSGIVING, 18, 0), False,
                 id="the evening runs are skipped on a holiday too"),
    pytest.param(AT_TIME, ny(MON, 18, 0), True,
                 id="the evening monitor runs on a trading day at its time"),
    pytest.param(INTRADAY, ny(HALF_DAY, 12, 55), True,
                 id="on the half day after Thanksgiving the monitors run until 13:00"),
    pytest.param(INTRADAY, ny(HALF_DAY, 13, 30), False,
                 id="on a half day the intraday jobs stop at 13:00"),
    pytest.param(FLATTEN, ny(MON, 15, 50), True,
                 id="day trades are flattened at 15:50 on a full day"),
    pytest.param(FLATTEN, ny(MON, 15, 58), True,
                 id="a flatten that starts late still runs before the close"),
    pytest.param(FLATTEN, ny(MON, 12, 50), False,
                 id="the half day's 12:50 flatten does not fire on a full day"),
    pytest.param(FLATTEN, ny(HALF_DAY, 12, 50), True,
                 id="on a half day day trades are flattened at 12:50"),
    pytest.param(FLATTEN, ny(HALF_DAY, 15, 50), False,
                 id="on a half day 15:50 is after the close: no flatten then"),
    pytest.param(FLATTEN, ny(MON, 16, 1), False, id="no flatten after the close"),
    pytest.param(INTRADAY, datetime(2026, 11, 23, 14, 30, tzinfo=timezone.utc), True,
                 id="in winter 14:30 UTC is the 9:30 open in New York"),
    pytest.param(INTRADAY, datetime(2026, 7, 6, 13, 30, tzinfo=timezone.utc), True,
                 id="in summer 13:30 UTC is the 9:30 open in New York"),
    pytest.param(INTRADAY, datetime(2026, 11, 23, 13, 30, tzinfo=timezone.utc), False,
                 id="in winter 13:30 UTC is 8:30 in New York: before the open"),
])
def test_a_run_goes_ahead_only_inside_its_session(kind, moment, allowed):
    calendar = TradingCalendar(broker_calendar, flatten_minutes=10)
    assert calendar.allows(_spec(kind), moment) is allowed


def test_the_calendar_is_read_once_per_day():
    reads: list[date] = []

    def counted(start: date, end: date) -> list[CalendarDay]:
        reads.append(start)
        return broker_calendar(start, end)

    calendar = TradingCalendar(counted, flatten_minutes=10)
    for minute in range(0, 60, 5):
        calendar.allows(_spec(INTRADAY), ny(MON, 10, minute))
    calendar.allows(_spec(INTRADAY), ny(THANKSGIVING, 10))
    calendar.allows(_spec(INTRADAY), ny(THANKSGIVING, 11))
    assert reads == [MON, THANKSGIVING]


SPECS = {s.job_id: s for s in job_specs(load_settings({}))}


@pytest.mark.parametrize("job, after, first", [
    pytest.param("order_executor", ny(MON, 9, 0), ny(MON, 9, 45),
                 id="the executor's first run of the day is at 9:45"),
    pytest.param("order_executor", ny(MON, 9, 46), ny(MON, 9, 47),
                 id="the executor runs every 2 minutes"),
    pytest.param("order_monitor", ny(MON, 9, 0), ny(MON, 9, 30),
                 id="the order monitor's first run is exactly at the open"),
    pytest.param("order_monitor", ny(MON, 15, 56), ny(MON, 16, 0),
                 id="the order monitor's last run is at the close"),
    pytest.param("position_monitor", ny(MON, 9, 31), ny(MON, 9, 40),
                 id="the position monitor runs every 10 minutes"),
    pytest.param("eod_flatten", ny(MON, 13, 0), ny(MON, 15, 50),
                 id="the flatten fires 10 minutes before the close"),
    pytest.param("eod_flatten", ny(MON, 12, 0), ny(MON, 12, 50),
                 id="the flatten also fires at 12:50, for a half day"),
    pytest.param("order_executor_close", ny(MON, 16, 0), ny(MON, 16, 5),
                 id="after the close the executor withdraws unfilled day entries at 16:05"),
    pytest.param("daily_report", ny(MON, 16, 0), ny(MON, 16, 30),
                 id="the daily report is written at 16:30"),
    pytest.param("position_monitor_pre_open", ny(MON, 8, 0), ny(MON, 9, 0),
                 id="the day's corporate actions are applied at 9:00, before the open"),
    pytest.param("order_monitor", ny(date(2026, 11, 20), 16, 1), ny(MON, 9, 30),
                 id="after Friday's close the next order-monitor run is Monday's open"),
])
def test_when_each_job_fires(job, after, first):
    fired = SPECS[job].trigger.get_next_fire_time(None, after)
    assert fired == first
