"""One leader among daemons: a PostgreSQL advisory lock held on its own connection.

The lock dies with the connection, so a standby takes over within one election interval of
the leader's death. Before each job the leader checks it still holds the lock (the
connection may have been dropped); a daemon that has lost it stops trading at once.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from trading_monitor.alerts import alert
from trading_monitor.db_layer import TradingDB
from trading_monitor.exceptions import DatabaseUnavailable

LEADER_LOCK_KEY = 7_301_905_117
log = logging.getLogger(__name__)


class Leadership:
    def __init__(self, db_config: dict[str, Any]):
        self._db = TradingDB(config=db_config, application_name="trading-monitor leader")
        self.is_leader = False

    def try_acquire(self) -> bool:
        """Take the lock if it is free; True while we hold it."""
        if self.is_leader:
            return self.still_leader()
        try:
            got = self._db.connect().execute_query(
                "SELECT pg_try_advisory_lock(%s) AS ok", [LEADER_LOCK_KEY])[0]["ok"]
        except DatabaseUnavailable as exc:
            log.warning("leader election: database away (%s)", exc)
            return False
        self.is_leader = bool(got)
        if self.is_leader:
            log.info("this daemon is the leader")
        return self.is_leader

    def still_leader(self) -> bool:
        if not self.is_leader:
            return False
        try:
            rows = self._db.execute_query(
                # A bigint key is split: classid the high 32 bits, objid the low ones.
                "SELECT 1 AS held FROM pg_locks WHERE locktype = 'advisory' "
                "AND pid = pg_backend_pid() AND classid = %s AND objid = %s "
                "AND objsubid = 1 AND granted",
                [LEADER_LOCK_KEY >> 32, LEADER_LOCK_KEY & 0xFFFFFFFF])
        except DatabaseUnavailable:
            rows = []
        if not rows:
            alert(log, "leadership_lost", f"{socket.gethostname()} pid {os.getpid()}",
                  "leadership lost: this daemon stops trading")
            self.is_leader = False
        return self.is_leader

    def release(self) -> None:
        if self.is_leader:
            try:
                self._db.execute_query("SELECT pg_advisory_unlock(%s) AS ok", [LEADER_LOCK_KEY])
            except DatabaseUnavailable:
                pass
        self.is_leader = False
        self._db.close()
