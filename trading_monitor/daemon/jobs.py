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

from trading_monitor.clock import system_clock
from trading_monitor.daemon.schedule import JobSpec
from trading_monitor.exceptions import FatalError
from trading_monitor.ledger.alerts import alert
from trading_monitor.ledger.runs import current_run_id

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
    # Called with a fatal error that carries an `exit_code` (another broker account than the
    # books'): the daemon stops and exits with it instead of pausing (fatal_exit.py).
    stop: Callable[[FatalError], None] | None = field(default=None, repr=False)
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


# The job_run name each job body records its runs under.
RUN_NAMES = {"executor": "order_executor", "order_monitor": "order_monitor",
             "position_monitor": "position_monitor", "report": "daily_report",
             "pre_open": "position_monitor"}


def _failed(spec: JobSpec, state: JobState, exc: BaseException) -> None:
    count = state.failures.get(spec.job_id, 0) + 1
    state.failures[spec.job_id] = count
    if count == state.failure_alert_after:
        alert(log, "job_failing", spec.job_id, "%s has failed %d times in a row: %s",
              spec.job_id, count, exc)


def guarded(spec: JobSpec, run: Callable[[], Any], *, is_leader: Callable[[], bool],
            allowed: Callable[[JobSpec], bool], state: JobState,
            clock: Callable[[], datetime] = system_clock,
            record_failure: Callable[[str, str], None] | None = None) -> Callable[[], None]:
    """The job as the scheduler runs it. A guard that cannot decide (the broker's calendar
    unreadable: a 429, the broker away) is a failed run: a FAILED job_run row through
    `record_failure(job_name, error)`, counted toward the "failed N times" alert, one line
    in the log (no traceback)."""
    def job() -> None:
        if state.paused:
            log.warning("%s not run: trading is paused (%s)", spec.job_id, state.paused)
            return
        if not is_leader():
            log.info("%s not run: this daemon is the standby", spec.job_id)
            return
        try:
            ok = allowed(spec)
        except Exception as exc:
            error = f"the trading calendar could not be read: {type(exc).__name__}: {exc}"
            _failed(spec, state, exc)
            log.error("%s failed (%d in a row): %s", spec.job_id,
                      state.failures[spec.job_id], error)
            if record_failure is not None:
                record_failure(RUN_NAMES.get(spec.runs, spec.job_id), error[:2000])
            return
        if not ok:
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
            if getattr(exc, "exit_code", None) is not None and state.stop is not None:
                state.stop(exc)  # it was alerted where it was found
            else:
                alert(log, "fatal", spec.job_id, "fatal error in %s; trading jobs paused, "
                      "the daemon stays up for the health check: %s", spec.job_id, exc)
        except Exception as exc:
            log.exception("%s failed (%d in a row): %s", spec.job_id,
                          state.failures.get(spec.job_id, 0) + 1, exc)
            _failed(spec, state, exc)
        finally:
            current_run_id.reset(token)
    job.__name__ = spec.job_id
    return job
