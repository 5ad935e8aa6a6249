"""The daemon's side of acting within a second (docs/daemon.md, "Acting within a second"):
when a woken job may run, starting and stopping the listener and its dispatcher with the
leadership, and the catch-up after every (re)connection. A mixin of `Daemon` (app.py)."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from trading_monitor.config import Settings
from trading_monitor.daemon.dispatch import Dispatcher
from trading_monitor.daemon.gate import EntryGate
from trading_monitor.daemon.jobs import JobState
from trading_monitor.daemon.schedule import NEW_YORK, JobSpec, TradingCalendar
from trading_monitor.daemon.wakeups import NotifyListener
from trading_monitor.db_layer import TradingDB

log = logging.getLogger(__name__)
# Woken cycles may spend at most this share of BROKER_REQUESTS_PER_MINUTE in any minute: the
# rest stays the monitors' (their stops and exits must never wait on a trickle of decisions).
WOKEN_SHARE = 0.5


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

    def _ready(self, job: str) -> bool:
        """May a woken `job` run now? The schedule's rules: the session, and no executor
        before EXECUTOR_TIME (it would send NEW_TRADEs early); never while paused."""
        if self.state.paused:
            return False
        now = self.now()
        if not self.calendar.allows(self._woken_specs[job], now):
            return False
        if job == "executor" and now.astimezone(NEW_YORK).time() < self.settings.executor_time:
            return False
        return self._within_share()

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
        self.dispatcher = Dispatcher(self._run_woken, self._ready,
                                     self._unsettled,
                                     min_gap=self.settings.notify_min_gap_seconds).start()
        self.notify_listener = NotifyListener(self._listen_config, self.db_config,
                                              self._heard, self._catch_up).start()

    def _heard(self, job: str, payload: str) -> None:
        """On the listener's thread: the kill switch closes the gate before anything else."""
        if payload == "kill_switch":
            try:
                self.gate.sync()
            except Exception as exc:  # the woken cycle reads it again
                log.warning("could not read the kill switch at once: %s", exc)
        if self.dispatcher is not None:
            self.dispatcher.wake(job, payload)

    def _catch_up(self) -> None:
        """After every (re)connection: what was notified while nobody listened."""
        if self.dispatcher is None or self.notify_listener is None:
            return
        self._heard("executor", "kill_switch")  # the gate too: a flip may have been missed
        if self.notify_listener.connections > 1:  # at start the reconciliation just ran
            self.dispatcher.wake("position_monitor", "catch-up")

    def _unsettled(self, ids: Iterable[int]) -> set[int]:
        with TradingDB(config=self.db_config, application_name="trading-monitor wakeups") as db:
            rows = db.execute_query("SELECT id FROM analysis_decision WHERE id = ANY(%s) "
                                    "AND executed IS NOT TRUE", [sorted(ids)])
        return {row["id"] for row in rows}

    def _stop_wakeups(self) -> None:
        if self.notify_listener is not None:
            self.notify_listener.stop()
            self.notify_listener = None
        if self.dispatcher is not None:
            self.dispatcher.stop()
            self.dispatcher = None
