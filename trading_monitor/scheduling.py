"""The APScheduler set-up: one blocking scheduler, New York time, explicit job defaults.

Jobs are plain callables registered in `build_scheduler`; each runs one cycle and returns.
The order and position monitors join here as they are built.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import pytz
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobEvent
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from trading_monitor.config import Settings

log = logging.getLogger(__name__)
TIMEZONE = "America/New_York"
JOB_DEFAULTS = {
    "coalesce": True,  # after a pause, run a missed job once, not once per missed slot
    "max_instances": 1,  # a slow cycle is never overlapped by the next
    "misfire_grace_time": 300,
}


def _listen(event: JobEvent) -> None:
    if event.code == EVENT_JOB_ERROR:
        log.error("job %s failed: %s", event.job_id, getattr(event, "exception", None))
    elif event.code == EVENT_JOB_MISSED:
        log.warning("job %s missed its run time", event.job_id)
    else:
        log.info("job %s finished", event.job_id)


def build_scheduler(settings: Settings, run_executor: Callable[[], object]) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone=TIMEZONE, job_defaults=JOB_DEFAULTS)
    scheduler.add_listener(_listen, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    at = settings.executor_time
    scheduler.add_job(run_executor, CronTrigger(day_of_week="mon-fri", hour=at.hour,
                                                minute=at.minute, timezone=TIMEZONE),
                      id="order_executor", name="order executor")
    # After the close (a half day's too): withdraw SWING entries that were DAY orders but
    # went out as GTC brackets, before they can fill in the next session.
    close = settings.entry_expiry_time
    scheduler.add_job(run_executor, CronTrigger(day_of_week="mon-fri", hour=close.hour,
                                                minute=close.minute, timezone=TIMEZONE),
                      id="order_executor_close", name="order executor after the close")
    return scheduler


def describe_jobs(scheduler: BlockingScheduler, now: datetime | None = None) -> list[str]:
    """Each job with its next run time; works before the scheduler is started."""
    moment = now or datetime.now(pytz.timezone(TIMEZONE))
    lines = []
    for job in scheduler.get_jobs():
        next_run = job.trigger.get_next_fire_time(None, moment)
        lines.append(f"{job.id}: {job.trigger} (next {next_run:%Y-%m-%d %H:%M %Z})")
    return lines
