"""The daemon's side of acting within a second (docs/daemon.md, "Acting within a second"):
when a woken job may run, starting and stopping the listener and its dispatcher with the
leadership, and the catch-up after every (re)connection. A mixin of `Daemon` (app.py).

A decision also wakes `cancels`: an executor cycle that sends no entry (order_executor/
cycle.py), run only inside the session before EXECUTOR_TIME, so a CANCEL, and an AMEND's
cancel, act at once from the open (one written overnight at the open); NEW_TRADEs, and the
AMEND's new entry, wait for EXECUTOR_TIME. Any executor run meets a `cancels` wish."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, cast

from trading_monitor.broker.base import Broker
from trading_monitor.daemon.dispatch import Dispatcher
from trading_monitor.daemon.gate import EntryGate
from trading_monitor.daemon.jobs import JobState, guarded
from trading_monitor.daemon.schedule import INTRADAY, NEW_YORK, JobSpec, TradingCalendar
from trading_monitor.daemon.wakeups import NotifyListener
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.queries import Queries
from trading_monitor.domain.market_time import new_york_time
from trading_monitor.order_executor.service import execute_once
from trading_monitor.settings.config import Settings

QUERIES = Queries(__name__)  # queries.sql beside this module

log = logging.getLogger(__name__)
# Woken cycles may spend at most this share of BROKER_REQUESTS_PER_MINUTE in any minute: the
# rest stays the monitors' (their stops and exits must never wait on a trickle of decisions).
WOKEN_SHARE = 0.5
CANCELS = "cancels"  # the executor before EXECUTOR_TIME: cancels only, never an entry


class WakeupsMixin:
    # What the Daemon provides.
    settings: Settings
    db_config: dict[str, Any]
    now: Callable[[], datetime]
    state: JobState
    calendar: TradingCalendar
    gate: EntryGate
    dispatcher: Dispatcher | None
    notify_listener: NotifyListener | None
    _listen_config: dict[str, Any]
    _woken_specs: dict[str, JobSpec]
    _woken: dict[str, Callable[[], None]]
    broker: Any
    _spent: deque[tuple[float, int]]  # (end, requests) of each woken run in the last minute
    _run_locks: dict[str, Any]
    _is_leader: Callable[[], bool]
    # NotifyListener's keyword arguments (ping_seconds, ping_timeout): tests shorten them.
    listener_options: dict[str, float] = {}

    def _ready(self, job: str) -> bool:
        """May a woken `job` run now? The schedule's rules: the session, and no executor
        before EXECUTOR_TIME (it would send NEW_TRADEs early; `cancels` runs then, and only
        then); never while paused."""
        if self.state.paused:
            return False
        now = self.now()
        try:
            allowed = self.calendar.allows(self._woken_specs[job], now)
        except Exception as exc:  # the calendar unreadable (a 429): the poll records it
            log.warning("woken %s waits: the trading calendar could not be read (%s)", job, exc)
            return False
        if not allowed:
            return False
        early = self._entries_at(now) is not None
        if (job == "executor" and early) or (job == CANCELS and not early):
            return False
        return self._within_share()

    def _entries_at(self, now: datetime) -> datetime | None:
        """Today's EXECUTOR_TIME while it is still ahead, else None."""
        local = now.astimezone(NEW_YORK)
        if local.time() >= self.settings.executor_time:
            return None
        return new_york_time(local.date(), self.settings.executor_time)

    def _within_share(self) -> bool:
        """The rate budget comes first: past its share, a woken cycle waits (the decisions
        gather, and the next cycle carries them all for one cycle's reads)."""
        cutoff = time.monotonic() - 60
        while self._spent and self._spent[0][0] < cutoff:
            self._spent.popleft()
        share = WOKEN_SHARE * self.settings.broker_requests_per_minute
        return sum(n for _, n in self._spent) < share

    def _run_woken(self, job: str) -> None:
        before = getattr(self.broker, "requests_sent", 0)
        try:
            self._woken[job]()
        finally:
            self._spent.append((time.monotonic(), getattr(self.broker, "requests_sent", 0)
                                - before))

    def listener_state(self) -> str | None:
        """For the heartbeat: None on a standby (it never listens)."""
        if not self.settings.decision_notify:
            return "off"
        return self.notify_listener.state if self.notify_listener is not None else None

    def _spec_ready(self, spec: JobSpec) -> bool:
        return self._ready(spec.runs)

    # -- acting within a second (docs/daemon.md) ---------------------------------------------

    def _start_wakeups(self) -> None:
        if not self.settings.decision_notify:
            return
        self._stop_wakeups()
        self._add_cancels()
        self.dispatcher = Dispatcher(self._run_woken, self._ready,
                                     self._unsettled,
                                     min_gap=self.settings.notify_min_gap_seconds,
                                     covers={"executor": (CANCELS,)}).start()
        self.notify_listener = NotifyListener(self._listen_config, self.db_config,
                                              self._heard, self._catch_up,
                                              **self.listener_options).start()

    def _add_cancels(self) -> None:
        """The woken-only job `cancels`, under the same guards as the executor."""
        if CANCELS in self._woken:
            return
        spec = JobSpec("order_executor_cancels", "order executor before EXECUTOR_TIME, "
                       "cancels only", self._woken_specs["executor"].trigger, INTRADAY, CANCELS)
        self._woken_specs[CANCELS] = spec
        self._woken[CANCELS] = guarded(spec, self._run_cancels, is_leader=self._is_leader,
                                       allowed=self._spec_ready, state=self.state)

    def _run_cancels(self) -> None:
        with self._run_locks["executor"]:  # never beside a full executor cycle
            started = time.monotonic()
            try:
                entries_at = self._entries_at(self.now())
                if entries_at is not None:  # else EXECUTOR_TIME came: the full cycle acts
                    execute_once(self.db_config, cast(Broker, self.gate), self.settings,
                                 now=self.now, entries_at=entries_at)
            finally:
                if self.dispatcher is not None:
                    self.dispatcher.ran(CANCELS, started, time.monotonic())

    def _heard(self, job: str, payload: str) -> None:
        """On the listener's thread: the kill switch closes the gate before anything else."""
        if payload == "kill_switch":
            try:
                self.gate.sync()
            except Exception as exc:  # the woken cycle reads it again
                log.warning("could not read the kill switch at once: %s", exc)
        if self.dispatcher is not None:
            self.dispatcher.wake(job, payload)
            if job == "executor":  # a CANCEL acts from the open, before EXECUTOR_TIME too
                self.dispatcher.wake(CANCELS, payload)  # (met by any executor run after it)

    def _catch_up(self) -> None:
        """After every (re)connection: what was notified while nobody listened."""
        if self.dispatcher is None or self.notify_listener is None:
            return
        self._heard("executor", "kill_switch")  # the gate too: a flip may have been missed
        if self.notify_listener.connections > 1:  # at start the reconciliation just ran
            self.dispatcher.wake("position_monitor", "catch-up")

    def _unsettled(self, ids: Iterable[int]) -> set[int]:
        with TradingDB(config=self.db_config, application_name="trading-monitor wakeups") as db:
            rows = db.execute_query(QUERIES["unexecuted_decisions"], [sorted(ids)])
        return {row["id"] for row in rows}

    def _stop_wakeups(self) -> None:
        if self.notify_listener is not None:
            self.notify_listener.stop()
            self.notify_listener = None
        if self.dispatcher is not None:
            self.dispatcher.stop()
            self.dispatcher = None
