"""Running one job inside the daemon: the leader check, the trading-day guard, a run id on
every log line, errors sorted (a fatal one pauses trading; anything else is logged and the
daemon carries on), and the job's start kept for its deadline."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from trading_monitor.alerts import alert
from trading_monitor.clock import system_clock
from trading_monitor.daemon.schedule import JobSpec
from trading_monitor.exceptions import FatalError
from trading_monitor.runs import current_run_id

log = logging.getLogger(__name__)


@dataclass
class JobState:
    """What the daemon knows across jobs: paused trading, and failures in a row per job."""

    paused: str | None = None  # why trading jobs are paused (a fatal error)
    failures: dict[str, int] = field(default_factory=dict)
    failure_alert_after: int = 3
    ran: int = 0  # jobs this daemon actually ran (a standby runs none)
    # Jobs running now and when they started (machine time: a deadline is about liveness).
    running: dict[str, datetime] = field(default_factory=dict)
    overdue: set[str] = field(default_factory=set)  # past their deadline, already alerted
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @contextmanager
    def running_job(self, name: str, clock: Callable[[], datetime]) -> Iterator[None]:
        with self._lock:
            self.running[name] = clock()
        try:
            yield
        finally:
            with self._lock:
                self.running.pop(name, None)
                self.overdue.discard(name)

    def past_deadline(self, now: datetime, deadline: timedelta) -> str | None:
        """Why the daemon is stuck (every job past its deadline), or None; each job is
        alerted once per overrun. A Python thread cannot be killed: the daemon's caller
        stops feeding systemd's watchdog, which restarts the process."""
        with self._lock:
            late = {name: now - started for name, started in self.running.items()
                    if now - started > deadline}
            new = sorted(set(late) - self.overdue)
            self.overdue |= set(late)
        limit = f"JOB_DEADLINE_SECONDS={deadline.total_seconds():g}"
        for name in new:
            alert(log, "job_deadline", name, "%s has run %d s, past %s: stuck; the daemon "
                  "stops feeding systemd's watchdog so that it is restarted", name,
                  int(late[name].total_seconds()), limit)
        if not late:
            return None
        return "stuck: " + "; ".join(f"{name} running for {age.total_seconds():.0f} s, past "
                                     f"{limit}" for name, age in sorted(late.items()))


def guarded(spec: JobSpec, run: Callable[[], Any], *, is_leader: Callable[[], bool],
            allowed: Callable[[JobSpec], bool], state: JobState,
            clock: Callable[[], datetime] = system_clock) -> Callable[[], None]:
    def job() -> None:
        if state.paused:
            log.warning("%s not run: trading is paused (%s)", spec.job_id, state.paused)
            return
        if not is_leader():
            log.info("%s not run: this daemon is the standby", spec.job_id)
            return
        if not allowed(spec):
            log.info("%s not run: outside the trading session", spec.job_id)
            return
        token = current_run_id.set(spec.job_id)
        state.ran += 1
        try:
            with state.running_job(spec.job_id, clock):
                run()
            state.failures[spec.job_id] = 0
        except FatalError as exc:
            state.paused = f"{spec.job_id}: {exc}"
            alert(log, "fatal", spec.job_id, "fatal error in %s; trading jobs paused, the "
                  "daemon stays up for the health check: %s", spec.job_id, exc)
        except Exception as exc:
            count = state.failures.get(spec.job_id, 0) + 1
            state.failures[spec.job_id] = count
            log.exception("%s failed (%d in a row): %s", spec.job_id, count, exc)
            if count == state.failure_alert_after:
                alert(log, "job_failing", spec.job_id, "%s has failed %d times in a row: %s",
                      spec.job_id, count, exc)
        finally:
            current_run_id.reset(token)
    job.__name__ = spec.job_id
    return job
