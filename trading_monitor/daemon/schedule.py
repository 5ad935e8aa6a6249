"""The schedule, in New York time (the defaults; every time is a setting):

- executor: from EXECUTOR_TIME (9:45) every 2 minutes until the close, so a deferred
  decision is retried within minutes and a decision whose notification was lost still acts
  (notifications act within a second: wakeups.py, dispatch.py); and after
  the close (ENTRY_EXPIRY_TIME, 16:05) to withdraw unfilled DAY entries sent as GTC brackets;
- order monitor: every ORDER_MONITOR_INTERVAL_MINUTES (5) from 9:30 to 16:00, the first at
  exactly 9:30, plus ORDER_MONITOR_EVENING_TIME (18:00), plus the end-of-day flatten at the
  close minus EOD_FLATTEN_MINUTES (15:50; 12:50 on a half day);
- position monitor: every POSITION_MONITOR_INTERVAL_MINUTES (10) from 9:30 to 16:00, plus
  POSITION_MONITOR_EVENING_TIME (18:15), plus its pre-open run at 9:00 (PRE_OPEN_TIME: the
  day's corporate actions, position_monitor/corporate_actions.py; also at daemon start).
- daily report: REPORT_TIME (16:30), the day's report written to REPORT_DIR and sent to
  REPORT_URLS (docs/report.md).

Triggers fire Monday to Friday; `TradingCalendar.allows` then skips holidays, keeps the
intraday jobs inside the session (an early close ends them at 13:00) and runs the flatten
only at the close minus its offset. Triggers are plain APScheduler cron triggers, so their
fire times are testable without running anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

from trading_monitor.broker.models import CalendarDay
from trading_monitor.domain.market_time import HALF_DAY_CLOSE, SESSION_CLOSE, SESSION_OPEN
from trading_monitor.domain.market_time import NEW_YORK as NEW_YORK  # read by daemon, demo
from trading_monitor.settings.config import Settings

INTRADAY, AT_TIME, FLATTEN = "intraday", "at_time", "flatten"
SLACK = timedelta(minutes=2)
PRE_OPEN_TIME = time(9, 0)  # corporate actions read and applied before the open


@dataclass(frozen=True)
class JobSpec:
    job_id: str
    name: str
    trigger: BaseTrigger
    kind: str  # intraday: only inside the session; at_time: any trading day; flatten
    runs: str  # executor | order_monitor | position_monitor | report


def _at(t: time) -> CronTrigger:
    return CronTrigger(day_of_week="mon-fri", hour=t.hour, minute=t.minute, timezone=NEW_YORK)


def _every(minutes: int, start: time, end: time) -> BaseTrigger:
    """Every `minutes` from `start` to `end` inclusive (whole hours in between)."""
    parts = [CronTrigger(day_of_week="mon-fri", hour=start.hour,
                         minute=f"{start.minute}-59/{minutes}", timezone=NEW_YORK)]
    if end.hour - 1 > start.hour:
        parts.append(CronTrigger(day_of_week="mon-fri", hour=f"{start.hour + 1}-{end.hour - 1}",
                                 minute=f"*/{minutes}", timezone=NEW_YORK))
    parts.append(CronTrigger(day_of_week="mon-fri", hour=end.hour, minute=f"0-{end.minute}/"
                             f"{minutes}", timezone=NEW_YORK))
    return OrTrigger(parts)


def job_specs(settings: Settings) -> list[JobSpec]:
    open_, close = SESSION_OPEN, SESSION_CLOSE
    ex = settings.executor_time
    flatten = (datetime.combine(date.today(), close)
               - timedelta(minutes=settings.eod_flatten_minutes)).time()
    half_flatten = (datetime.combine(date.today(), HALF_DAY_CLOSE)
                    - timedelta(minutes=settings.eod_flatten_minutes)).time()
    specs = [
        JobSpec("order_executor", "order executor, from EXECUTOR_TIME every 2 minutes",
                _every(2, ex, close), INTRADAY, "executor"),
        JobSpec("order_executor_close", "order executor after the close",
                _at(settings.entry_expiry_time), AT_TIME, "executor"),
        JobSpec("position_monitor", "position monitor",
                _every(settings.position_monitor_interval_minutes, open_, close), INTRADAY,
                "position_monitor"),
        JobSpec("position_monitor_evening", "position monitor, evening",
                _at(settings.position_monitor_evening_time), AT_TIME, "position_monitor"),
        JobSpec("position_monitor_pre_open", "position monitor, pre-open (corporate actions)",
                _at(PRE_OPEN_TIME), AT_TIME, "pre_open"),
        JobSpec("order_monitor_evening", "order monitor, evening",
                _at(settings.order_monitor_evening_time), AT_TIME, "order_monitor"),
        JobSpec("eod_flatten", "end-of-day flatten (order monitor)",
                OrTrigger([_at(flatten), _at(half_flatten)]), FLATTEN, "order_monitor"),
        JobSpec("daily_report", "daily report, after the close", _at(settings.report_time),
                AT_TIME, "report"),
    ]
    if not settings.decision_polling:  # the notifications alone (tests): see woken_specs
        specs = [s for s in specs if s.job_id != "order_executor"]
    if settings.order_polling:
        specs.insert(3, JobSpec("order_monitor", "order monitor",
                                _every(settings.order_monitor_interval_minutes, open_, close),
                                INTRADAY, "order_monitor"))
    return specs


def woken_specs(settings: Settings) -> dict[str, JobSpec]:
    """What a notification runs, under the same guards as the scheduled job: the executor
    inside the session (and, checked by the daemon, not before EXECUTOR_TIME), the position
    monitor inside the session. Their triggers are never scheduled."""
    close = SESSION_CLOSE
    return {
        "executor": JobSpec("order_executor_woken", "order executor, woken by a notification",
                            _every(2, settings.executor_time, close), INTRADAY, "executor"),
        "position_monitor": JobSpec("position_monitor_woken", "position monitor, woken by an exit "
                                    "approval", _every(10, SESSION_OPEN, close), INTRADAY,
                                    "position_monitor"),
    }


class ShiftedTrigger(BaseTrigger):
    """`inner`'s fire times on a clock `offset` ahead of the machine's (CLOCK_SOURCE=broker:
    a paper exchange's simulated day in real time). APScheduler waits on the machine's
    clock; this trigger turns "9:45 on the exchange's clock" into the machine moment it
    happens, so the real scheduler runs the simulated day."""

    def __init__(self, inner: BaseTrigger, offset: timedelta):
        self.inner, self.offset = inner, offset

    def get_next_fire_time(self, previous_fire_time: datetime | None,
                           now: datetime) -> datetime | None:
        previous = previous_fire_time + self.offset if previous_fire_time else None
        due = self.inner.get_next_fire_time(previous, now + self.offset)
        return None if due is None else (due - self.offset).astimezone(NEW_YORK)

    def __str__(self) -> str:
        return f"{self.inner} on a clock {self.offset} ahead"


def shifted(trigger: BaseTrigger, offset: timedelta | None) -> BaseTrigger:
    return ShiftedTrigger(trigger, offset) if offset else trigger


class TradingCalendar:
    """The broker's calendar, read once per day (holidays and half days), and the guard."""

    def __init__(self, read_days: object, flatten_minutes: int):
        self._read = read_days  # Callable[[date, date], list[CalendarDay]]
        self._days: dict[date, CalendarDay | None] = {}
        self.flatten_minutes = flatten_minutes

    def session(self, day: date) -> CalendarDay | None:
        if day not in self._days:
            found = [d for d in self._read(day, day) if d.date == day]  # type: ignore[operator]
            self._days[day] = found[0] if found else None
        return self._days[day]

    def allows(self, spec: JobSpec, moment: datetime) -> bool:
        local = moment.astimezone(NEW_YORK)
        session = self.session(local.date())
        if session is None:
            return False  # a market holiday: nothing trades
        if spec.kind == INTRADAY:
            # A run due at the close fires a few milliseconds after it: still today's.
            return session.open <= local <= session.close + SLACK
        if spec.kind == FLATTEN:
            # Its due time on this day's session (15:50, or 12:50 on a half day), late or
            # not, but before the close: a delayed start must not leave day trades open.
            due = session.close - timedelta(minutes=self.flatten_minutes)
            return due - SLACK <= local <= session.close
        return True
