"""What the daemon calls (daemon/app.py): its start and stop written to event_log (so they
become messages like every other event), the leader's message sender as its own scheduler
job, and the dead-man's switch from the heartbeat. Every call here swallows its own errors:
messages and pings never stop the daemon or a job."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from typing import Any

from apscheduler.triggers.interval import IntervalTrigger

from trading_monitor.clock import system_clock
from trading_monitor.cockpit.heartbeat import Pinger
from trading_monitor.cockpit.outbox import Outbox
from trading_monitor.db.connection import TradingDB
from trading_monitor.ledger.runs import log_event, new_run_id
from trading_monitor.settings.config import Settings

log = logging.getLogger(__name__)
JOB_ID = "notify_outbox"


class Cockpit:
    def __init__(self, settings: Settings, db_config: dict[str, Any], *,
                 notifier: Any = None):
        self.settings = settings
        self.outbox = Outbox(db_config, settings, notifier=notifier)
        url = settings.heartbeat_url.get_secret_value() if settings.heartbeat_url else None
        self.pinger = Pinger(url, settings.heartbeat_ping_seconds)
        self._is_leader: Callable[[], bool] = lambda: False

    def add_jobs(self, scheduler: Any, is_leader: Callable[[], bool]) -> None:
        self._is_leader = is_leader
        scheduler.add_job(self.send, IntervalTrigger(seconds=self.settings.notify_send_seconds),
                          id=JOB_ID, name="per-event messages (the leader sends the outbox)",
                          next_run_time=system_clock())

    def send(self) -> None:
        if self._is_leader():
            self.outbox.send_due()

    def beat(self, *, leader: bool, stuck: str | None, paused: str | None) -> None:
        try:
            problem = f"trading paused: {paused}" if paused else stuck
            self.pinger.beat(leader=leader, problem=problem)
        except Exception as exc:
            log.warning("heartbeat ping skipped: %s", type(exc).__name__)

    def daemon_event(self, db: TradingDB, event: str) -> None:
        """`started` or `stopped`, in event_log (the outbox's trigger makes it a message)."""
        mode = "paper" if self.settings.alpaca_paper else "LIVE"
        host, pid = socket.gethostname(), os.getpid()
        try:
            log_event(db, new_run_id("daemon"), "daemon", None, event,
                      f"daemon {event} on {host}, pid {pid} ({mode})",
                      detail={"host": host, "pid": pid, "mode": mode})
        except Exception as exc:  # the database may be why we stop
            log.warning("daemon %s not recorded in event_log: %s", event, type(exc).__name__)

    def stopping(self, leader: bool) -> None:
        """The last pass: the stop message (and what waits) leaves before the process."""
        try:
            if leader:
                self.outbox.send_due()
        finally:
            self.outbox.close()

    def fatal(self, reason: str) -> None:
        self.pinger.fail(reason)
