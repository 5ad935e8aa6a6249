"""Running one job inside the daemon: the leader check, the trading-day guard, a run id on
every log line, and errors sorted (a fatal one pauses trading; anything else is logged and
the daemon carries on)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from trading_monitor.alerts import alert
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


def guarded(spec: JobSpec, run: Callable[[], Any], *, is_leader: Callable[[], bool],
            allowed: Callable[[JobSpec], bool], state: JobState) -> Callable[[], None]:
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
