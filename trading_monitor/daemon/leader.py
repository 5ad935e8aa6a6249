"""One leader among daemons: a PostgreSQL advisory lock held on its own connection.

The lock dies with the connection, so a standby takes over within one election interval of
the leader's death. Before each job the leader checks it still holds the lock (the
connection may have been dropped); a daemon that has lost it stops trading at once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import datetime, timedelta
from typing import Any

from trading_monitor.db.connection import TradingDB
from trading_monitor.db.queries import Queries
from trading_monitor.exceptions import DatabaseUnavailable
from trading_monitor.ledger.alerts import alert

QUERIES = Queries(__name__)  # queries.sql beside this module

LEADER_LOCK_KEY = 7_301_905_117
STALE_HEARTBEAT = timedelta(minutes=3)
log = logging.getLogger(__name__)


def me() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def supersede_old_leaders(db: TradingDB, now: datetime) -> None:
    """Called by a daemon that has just taken the leader lock: whoever else has a row saying
    `leader` no longer holds the lock (the lock is ours), so it is dead (SIGKILL, a lost
    host) or no longer leading; its row must not say it is."""
    who = me()
    for row in db.execute_query(QUERIES["supersede"], {
            **who, "by": f"{who['host']} pid {who['pid']}",
            "at": now.isoformat(timespec="seconds")}):
        log.warning("the old leader %s pid %s (last beat %s) is superseded: its heartbeat "
                    "row is marked stopping", row["host"], row["pid"], row["beat_at"])


class StaleLeaderWatch:
    """A standby's watch on the leader: a leader row whose beat is stale while no fresh
    leader row exists is one ALERT per incident (the same host, pid and last beat), not
    one every election interval. A stale leader row beside a fresh leader is a dead
    process's leftover, not an incident."""

    def __init__(self) -> None:
        self.alerted: set[tuple[str, int, datetime]] = set()

    def check(self, db: TradingDB, now: datetime) -> None:
        rows = db.execute_query(QUERIES["stale_leaders"], {**me(), "since": now - STALE_HEARTBEAT})
        incidents = {(r["host"], r["pid"], r["beat_at"]) for r in rows
                     if not r["fresh_leader"]}
        for host, pid, beat_at in sorted(incidents - self.alerted, key=str):
            alert(log, "leader_stale", f"{host} pid {pid}",
                  "the leader's heartbeat is stale: %s pid %s last beat %s", host, pid, beat_at)
        self.alerted = incidents  # over (it beats again, or was superseded): forgotten


class Leadership:
    """The lock's connection is shared by the election and every job's check, on their own
    threads: one at a time (`_turn`). Without it a check that started on the dropped
    connection could fail after the election had retaken the lock on a new one, close that
    one and lose the lock again (a leadership flap, a second stream listener)."""

    def __init__(self, db_config: dict[str, Any]):
        self._db = TradingDB(config=db_config, application_name="trading-monitor leader")
        self._turn = threading.RLock()
        self.is_leader = False

    def try_acquire(self) -> bool:
        """Take the lock if it is free; True while we hold it."""
        with self._turn:
            return self._try_acquire()

    def _try_acquire(self) -> bool:
        if self.is_leader:
            return self._still_leader()
        try:
            got = self._db.connect().execute_query(
                QUERIES["leader_try_lock"], [LEADER_LOCK_KEY])[0]["ok"]
        except DatabaseUnavailable as exc:
            log.warning("leader election: database away (%s)", exc)
            return False
        self.is_leader = bool(got)
        if self.is_leader:
            log.info("this daemon is the leader")
        return self.is_leader

    def still_leader(self) -> bool:
        with self._turn:
            return self._still_leader()

    def _still_leader(self) -> bool:
        if not self.is_leader:
            return False
        try:
            rows = self._db.execute_query(
                # A bigint key is split: classid the high 32 bits, objid the low ones.
                QUERIES["leader_lock_held"],
                [LEADER_LOCK_KEY >> 32, LEADER_LOCK_KEY & 0xFFFFFFFF])
        except DatabaseUnavailable:
            rows = []
        if not rows:
            alert(log, "leadership_lost", f"{socket.gethostname()} pid {os.getpid()}",
                  "leadership lost: this daemon stops trading")
            self.is_leader = False
        return self.is_leader

    def release(self) -> None:
        with self._turn:
            self._release()

    def _release(self) -> None:
        if self.is_leader:
            try:
                self._db.execute_query(QUERIES["leader_unlock"], [LEADER_LOCK_KEY])
            except DatabaseUnavailable:
                pass
        self.is_leader = False
        self._db.close()
