"""The daemon: one BlockingScheduler in New York time owning every job.

Every daemon runs the election and the heartbeat; only the leader runs the trading jobs and
the order stream. A fatal error pauses the trading jobs and keeps the daemon up (its
heartbeat and the health check say why). SIGTERM finishes the running job and exits.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from trading_monitor.broker.base import Broker
from trading_monitor.clock import Clock, system_clock
from trading_monitor.cockpit.hooks import Cockpit
from trading_monitor.daemon.dispatch import Dispatcher
from trading_monitor.daemon.fatal_exit import FatalExitMixin
from trading_monitor.daemon.gate import EntryGate
from trading_monitor.daemon.jobs import JobState, guarded
from trading_monitor.daemon.leader import Leadership, StaleLeaderWatch, supersede_old_leaders
from trading_monitor.daemon.notify import sd_notify
from trading_monitor.daemon.schedule import (
    NEW_YORK,
    JobSpec,
    TradingCalendar,
    job_specs,
    shifted,
    woken_specs,
)
from trading_monitor.daemon.wakeups import NotifyListener
from trading_monitor.daemon.woken import WakeupsMixin
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.queries import Queries
from trading_monitor.engine.account_guard import AccountMismatch
from trading_monitor.ledger.alerts import alert
from trading_monitor.ledger.runs import new_run_id
from trading_monitor.order_executor.service import execute_once
from trading_monitor.order_monitor.service import monitor_once
from trading_monitor.position_monitor.corporate_actions import pre_open_once
from trading_monitor.position_monitor.service import position_monitor_once
from trading_monitor.report.job import daily_report
from trading_monitor.settings.config import Settings

QUERIES = Queries(__name__)  # queries.sql beside this module

log = logging.getLogger(__name__)
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}


class Daemon(WakeupsMixin, FatalExitMixin):
    def __init__(self, settings: Settings, db_config: dict[str, Any], broker: Broker, *,
                 now: Clock, election_seconds: float = 15, heartbeat_seconds: float = 30,
                 fast_seconds: float | None = None,
                 listener_factory: Callable[[], Any] | None = None,
                 listen_config: dict[str, Any] | None = None,
                 schedule_offset: timedelta | None = None):
        self.settings, self.db_config, self.broker, self.now = settings, db_config, broker, now
        # The job clock's lead on the machine's (CLOCK_SOURCE=broker): the schedule fires on
        # the job clock, so a paper exchange's simulated day runs in real time.
        self.schedule_offset = schedule_offset
        self.leadership = Leadership(db_config)
        self._stale_leader = StaleLeaderWatch()
        self.calendar = TradingCalendar(broker.get_calendar, settings.eod_flatten_minutes)
        self.state = JobState(stop=self._exit_for)  # another broker account: exit 2
        self.scheduler = BlockingScheduler(timezone=NEW_YORK, job_defaults=JOB_DEFAULTS)
        self._db = TradingDB(config=db_config, application_name="trading-monitor daemon")
        self._listener_factory = listener_factory
        self._listener: Any = None
        self._started = system_clock()  # liveness is the machine's time, not the job clock
        self._lock = threading.Lock()
        self.specs = job_specs(settings)
        # One lock per job body: a scheduled run and a woken one never overlap.
        self._run_locks = {job: threading.Lock() for job in
                           ("executor", "order_monitor", "position_monitor", "report",
                            "pre_open")}
        self.gate = EntryGate(broker, db_config)  # the executor's broker (gate.py)
        self._listen_config = listen_config or db_config  # another only in the self-test's test
        self._spent = deque()  # the woken cycles' requests (woken.py)
        self.dispatcher: Dispatcher | None = None
        self.notify_listener: NotifyListener | None = None
        self._woken_specs = woken_specs(settings)
        self._woken = {job: guarded(spec, self._tracked(job), is_leader=self._is_leader,
                                    allowed=self._spec_ready, state=self.state,
                                    record_failure=self._record_failure)
                       for job, spec in self._woken_specs.items()}
        self.cockpit = Cockpit(settings, db_config)  # messages and the dead-man's switch
        self._add_jobs(fast_seconds, election_seconds, heartbeat_seconds)

    # -- set-up -----------------------------------------------------------------------------

    def _add_jobs(self, fast: float | None, election: float, heartbeat: float) -> None:
        for spec in self.specs:
            trigger = IntervalTrigger(seconds=fast) if fast else shifted(
                spec.trigger, self.schedule_offset)
            self.scheduler.add_job(
                guarded(spec, self._tracked(spec.runs), is_leader=self._is_leader,
                        allowed=self._allowed, state=self.state,
                        record_failure=self._record_failure),
                trigger, id=spec.job_id, name=spec.name)
        self.scheduler.add_job(self.elect, IntervalTrigger(seconds=election), id="election",
                               name="leader election", next_run_time=system_clock())
        self.scheduler.add_job(self.beat, IntervalTrigger(seconds=heartbeat), id="heartbeat",
                               name="heartbeat", next_run_time=system_clock())
        self.cockpit.add_jobs(self.scheduler, lambda: self.leadership.is_leader)
        self.scheduler.add_listener(self._on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)

    def _runner(self, job: str) -> Callable[[], Any]:
        s, db, broker, now = self.settings, self.db_config, self.broker, self.now
        return {
            "executor": self._execute,
            "order_monitor": lambda: monitor_once(db, broker, s, now=now),
            "position_monitor": lambda: position_monitor_once(db, broker, s, now=now),
            "pre_open": lambda: pre_open_once(db, broker, s, now=now),  # corporate actions
            "report": lambda: daily_report(db, s, now=now),  # the database only
        }[job]

    def _tracked(self, job: str) -> Callable[[], None]:
        """The job body under its lock, telling the dispatcher when it ran: a run that
        started after a notification has met it, scheduled or woken."""
        run = self._runner(job)

        def tracked() -> None:
            with self._run_locks[job]:
                started = time.monotonic()
                try:
                    run()
                finally:  # a failed run too: the poll is the backstop, never a tight loop
                    if self.dispatcher is not None:
                        self.dispatcher.ran(job, started, time.monotonic())
        return tracked

    def _execute(self) -> None:
        self.gate.sync()  # a lost "off" notification never keeps entries blocked
        execute_once(self.db_config, cast(Broker, self.gate), self.settings, now=self.now)

    def _is_leader(self) -> bool:
        """A leader that finds its lock gone (a database restart drops the connection) asks
        for an election at once instead of a full interval later: with staged protection a
        fill in that gap would wait for its stop."""
        if self.leadership.still_leader():
            return True
        election = self.scheduler.get_job("election")
        if election is not None and self.scheduler.running:
            election.modify(next_run_time=system_clock())
        return False

    def _allowed(self, spec: JobSpec) -> bool:
        return self.calendar.allows(spec, self.now())

    # -- the always-on jobs ------------------------------------------------------------------

    def elect(self) -> None:
        with self._lock:
            was = self.leadership.is_leader
            now_leader = self.leadership.try_acquire()
            if now_leader and not was:
                supersede_old_leaders(self._db, system_clock())
                self.beat()  # the heartbeat says leader at once, not a beat later
                self._became_leader()
            if not now_leader:
                # Also when a job found the lock gone first (then `was` is already False).
                self._stop_listener()
                # A standby watches the leader: the lock may still be held by a hung
                # process (systemd's watchdog restarts it). Once per incident.
                self._stale_leader.check(self._db, system_clock())

    def _became_leader(self) -> None:
        """Reconcile with the broker first, then listen to the order stream."""
        try:
            # Under the same deadline as the jobs: it runs inside the election job.
            with self.state.running_job("startup_reconciliation", system_clock):
                report = pre_open_once(self.db_config, self.broker, self.settings,
                                       now=self.now, mode="normal")  # with corporate actions
            log.info("start-up reconciliation: %s", report.summary)
        except AccountMismatch as exc:  # alerted; nothing here may act for that account
            self._exit_for(exc)
            return
        except Exception as exc:
            alert(log, "startup_reconciliation", "", "start-up reconciliation failed: %s", exc)
        if self._listener_factory is not None:
            self._stop_listener()  # leadership lost and regained: never two listeners
            self._listener = self._listener_factory().start()
        self._start_wakeups()

    def _stop_listener(self) -> None:
        self._stop_wakeups()  # a standby never acts on a notification
        if self._listener is not None:
            self._listener.stop()
            self._listener = None

    def beat(self) -> None:
        """The heartbeat row, and systemd's WATCHDOG=1 unless a job is past its deadline:
        the row then says which job is stuck (health: CRITICAL), and systemd restarts us."""
        # Asked of the lock itself: a daemon whose lock connection died must not go on
        # writing `leader` over the row of the one that took over.
        role = "leader" if self._is_leader() else "standby"
        stuck = self.state.past_deadline(
            system_clock(), timedelta(seconds=self.settings.job_deadline_seconds))
        self._db.execute_update(
            QUERIES["heartbeat_upsert"],
            [socket.gethostname(), os.getpid(), role, self._started, system_clock(),
             self.state.paused or stuck, self.listener_state()])
        if stuck is None:
            sd_notify("WATCHDOG=1")
        else:
            log.error("not feeding systemd's watchdog (%s)", stuck)
        self.cockpit.beat(leader=role == "leader", stuck=stuck, paused=self.state.paused)

    def _record_failure(self, job_name: str, error: str) -> None:
        """A run that failed before its body started (the calendar guard): its job_run row."""
        try:
            self._db.insert("job_run", {"run_id": new_run_id(job_name), "job_name": job_name,
                                        "status": "FAILED", "error": error,
                                        "finished_at": system_clock(),
                                        "host": socket.gethostname(), "pid": os.getpid()})
        except Exception as exc:  # the database away too: the log line has it
            log.warning("could not record the failed %s run: %s", job_name, exc)

    def _on_event(self, event: JobEvent) -> None:
        status = "MISSED" if event.code == EVENT_JOB_MISSED else "SKIPPED"
        why = ("missed its run time" if status == "MISSED"
               else "skipped: the previous run is still going")
        # The election (every 15 s) waiting for the start-up reconciliation is expected.
        level = logging.INFO if event.job_id == "election" else logging.WARNING
        log.log(level, "job %s %s", event.job_id, why)
        self._db.insert("job_run", {"run_id": new_run_id(event.job_id), "job_name": event.job_id,
                                    "status": status, "error": why, "host": socket.gethostname(),
                                    "pid": os.getpid()})

    # -- running ------------------------------------------------------------------------------

    def describe(self, moment: datetime | None = None) -> list[str]:
        """Each job with its next fire time on the job clock (works before the scheduler
        starts)."""
        moment = moment or system_clock().astimezone(NEW_YORK)
        lines = []
        for job in self.scheduler.get_jobs():
            due = job.trigger.get_next_fire_time(None, moment)
            if due is not None and self.schedule_offset and job.id not in ("election",
                                                                           "heartbeat"):
                due = (due + self.schedule_offset).astimezone(NEW_YORK)
            lines.append(f"{job.id}: {job.name} (next {due:%Y-%m-%d %H:%M %Z})")
        return lines

    def run(self) -> None:
        for line in self.describe():
            log.info("job %s", line)
        sd_notify("READY=1")
        self.cockpit.daemon_event(self._db, "started")
        try:
            self.scheduler.start()
        except Exception as exc:
            self.cockpit.fatal(f"the daemon's scheduler stopped: {type(exc).__name__}: {exc}")
            raise
        finally:
            self.close()

    def stop(self) -> None:
        """Finish the running jobs, then return from run()."""
        sd_notify("STOPPING=1")
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)

    def close(self) -> None:
        self._stop_listener()
        try:
            self._db.execute_update(QUERIES["heartbeat_stopping"],
                                    [socket.gethostname(), os.getpid()])
        except Exception:  # the database may be the reason we are stopping
            log.warning("could not mark the heartbeat as stopping")
        self.cockpit.daemon_event(self._db, "stopped")
        self.cockpit.stopping(self.leadership.is_leader)
        self.leadership.release()
        self._db.close()
