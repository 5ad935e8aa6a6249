"""From notifications to cycles: debounce, the minimum gap, and "may it run now?".

A notification only marks a job as wanted. The dispatcher's thread waits for the burst to
go quiet (`debounce`), then runs the job through `run(job)`, the daemon's guarded job: the
leader check, the calendar, the job lock. A job that may not run yet (before EXECUTOR_TIME,
on a holiday, trading paused) stays wanted and is asked again every second, so a NEW_TRADE
written at 9:40 goes at 9:45 even without the poll. Two cycles one notification started
are at least `min_gap` apart, so a trickle of decisions cannot eat the monitors' share of
the broker's request budget.

A wish is met by any run of its job that started after it was made, a scheduled one too,
or by a run of a job that covers it (`covers`: a full executor cycle covers `cancels`);
a decision notified while a cycle ran is met by that cycle if the cycle took it
(`settled(ids)` says which are still pending), so a burst costs one cycle, not two.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)
RECHECK_SECONDS = 1.0  # how often a wish that may not run yet is asked again
QUIET_CAP = 2.0  # a burst that never goes quiet still runs after this


@dataclass
class _Wish:
    since: float  # monotonic time of the first notification not yet met
    last: float  # of the latest one (the debounce waits for quiet after it)
    ids: set[int] = field(default_factory=set)  # decision ids named since


class Dispatcher:
    def __init__(self, run: Callable[[str], None], ready: Callable[[str], bool],
                 unsettled: Callable[[Iterable[int]], set[int]], *,
                 debounce: float = 0.2, min_gap: float = 5.0,
                 clock: Callable[[], float] = time.monotonic,
                 covers: dict[str, tuple[str, ...]] | None = None):
        self._run, self._ready, self._unsettled = run, ready, unsettled
        self.debounce, self.min_gap, self._clock = debounce, min_gap, clock
        self._covers = covers or {}
        self._wishes: dict[str, _Wish] = {}
        self._last_start: dict[str, float] = {}
        self._cond = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self.cycles = 0  # cycles a notification started (tests and the benchmark read it)

    # -- what the listener and the scheduled jobs say -------------------------------------

    def wake(self, job: str, payload: str = "") -> None:
        now = self._clock()
        with self._cond:
            wish = self._wishes.setdefault(job, _Wish(now, now))
            wish.last = now
            kind, _, ident = payload.partition(":")
            if kind == "decision" and ident.isdigit():
                wish.ids.add(int(ident))
            self._cond.notify_all()

    def ran(self, job: str, started: float, ended: float) -> None:
        """A run of `job` from `started` to `ended` (monotonic) met every wish made before
        it started, and one made during it if the run took every decision it named."""
        for name in (job, *self._covers.get(job, ())):
            self._met(name, started, ended)

    def _met(self, job: str, started: float, ended: float) -> None:
        with self._cond:
            wish = self._wishes.get(job)
            if wish is None or wish.last > ended:
                return  # a notification after the run ended: still wanted
            ids, during = set(wish.ids), wish.last >= started
        if during and (not ids or self._unsettled(ids)):
            return  # the run may have started before that commit: one more cycle
        with self._cond:
            if self._wishes.get(job) is wish and wish.last <= ended:
                del self._wishes[job]

    # -- the thread ---------------------------------------------------------------------------

    def start(self) -> Dispatcher:
        self._thread = threading.Thread(target=self._loop, name="wakeups", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            with self._cond:
                due = self._next_due()
                while not self._stopped and due is None:
                    self._cond.wait(RECHECK_SECONDS)
                    due = self._next_due()
                if self._stopped or due is None:
                    return
            job, wait = due
            if wait > 0:
                with self._cond:
                    self._cond.wait(wait)  # a new notification re-plans at once
                continue
            self._start(job)

    def _next_due(self) -> tuple[str, float] | None:
        """The job to run next and how long until it may: the debounce's quiet time and the
        minimum gap. None when nothing is wanted, or nothing wanted may run now."""
        now = self._clock()
        plans = []
        for job, wish in self._wishes.items():
            quiet = min(wish.last + self.debounce, wish.since + QUIET_CAP)
            gap = self._last_start.get(job, float("-inf")) + self.min_gap
            plans.append((max(quiet, gap) - now, job))
        for wait, job in sorted(plans):
            if wait > 0:
                return job, wait
            if self._ready(job):
                return job, 0.0
            # not yet (before EXECUTOR_TIME, a holiday, paused): asked again in a second
        return None

    def _start(self, job: str) -> None:
        self._last_start[job] = self._clock()
        self.cycles += 1
        log.info("woken: running the %s now", job.replace("_", " "))
        try:
            self._run(job)
        except Exception:  # the guarded job logs its own failures; this is a bug guard
            log.exception("a woken %s failed", job)
            with self._cond:
                self._wishes.pop(job, None)  # never a tight loop on a broken job
