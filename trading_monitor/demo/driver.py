"""Driving the real Daemon on a simulated clock.

APScheduler's BlockingScheduler waits on wall time, so a simulated week cannot run through
it. Instead every job's fire times are read from its real trigger
(`trigger.get_next_fire_time`), in order; for each one the exchange's clock is set to it and
the job's function (the Daemon's guarded job: leader check, trading-calendar guard, run id,
error handling) is called as the scheduler would call it. The election and the heartbeat run
around each fire, as they do in the daemon. Used by `trading-monitor demo` and by
scripts/benchmark.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as wall_time
from typing import Any

from trading_monitor.domain.market_time import new_york_time


@dataclass(frozen=True)
class Fire:
    at: datetime  # aware, America/New_York (as the trigger gives it)
    job_id: str
    run: Callable[[], Any]


def new_york(day: date, hour: int, minute: int) -> datetime:
    return new_york_time(day, wall_time(hour, minute))


def fire_times(trigger: Any, start: datetime, end: datetime) -> Iterator[datetime]:
    """Every fire time of `trigger` in [start, end), as APScheduler would compute them."""
    moment = trigger.get_next_fire_time(None, start)
    while moment is not None and moment < end:
        yield moment
        moment = trigger.get_next_fire_time(moment, moment + timedelta(microseconds=1))


class DaemonDriver:
    """Runs a Daemon's jobs at their fire times on a clock the caller sets."""

    def __init__(self, daemon: Any, set_clock: Callable[[datetime], object]):
        self.daemon = daemon
        self.set_clock = set_clock
        self.ran: dict[str, int] = {}  # job id -> runs its guard let through
        self.seconds: dict[str, float] = {}  # job id -> wall seconds spent in it

    def fires(self, start: datetime, end: datetime) -> list[Fire]:
        """Every job the Daemon schedules from its specs (not the election or heartbeat,
        which run around each fire), in time order; ties keep the scheduler's job order."""
        ids = {spec.job_id for spec in self.daemon.specs}
        jobs = [job for job in self.daemon.scheduler.get_jobs() if job.id in ids]
        found = [(t, n, Fire(t, job.id, job.func)) for n, job in enumerate(jobs)
                 for t in fire_times(job.trigger, start, end)]
        return [fire for _, _, fire in sorted(found, key=lambda item: (item[0], item[1]))]

    def start(self) -> None:
        """The daemon's first election: the leader reconciles, then starts the stream."""
        self.daemon.elect()

    def run(self, fire: Fire) -> bool:
        """Set the clock to the fire time and run the job; True if its guard let it run."""
        began = time.monotonic()
        self.set_clock(fire.at)
        self.daemon.elect()
        before = self.daemon.state.ran
        fire.run()
        self.daemon.beat()
        ran = self.daemon.state.ran > before
        if ran:
            self.ran[fire.job_id] = self.ran.get(fire.job_id, 0) + 1
        spent = time.monotonic() - began
        self.seconds[fire.job_id] = self.seconds.get(fire.job_id, 0.0) + spent
        return ran
