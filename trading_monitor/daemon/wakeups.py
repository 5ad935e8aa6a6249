"""The leader's ear: LISTEN on a connection of its own for the triggers of migration 0012.

A notification names what changed (`decision:ID`, `kill_switch`, `exit:ID`); the listener
turns it into the job that acts on it and hands it to the dispatcher. It never acts itself.

Nothing is lost when the connection is: the 2-minute poll stays, and after every
(re)connection the listener asks for a catch-up cycle. A connection that is quietly gone is
found by TCP keepalives and by a self-ping every `ping_seconds`: a NOTIFY sent from another,
short-lived connection (never on the listening one: a deaf server would leave that query
hanging) and not heard back within `ping_timeout` counts as a lost connection. At start
the listener checks that it hears a NOTIFY sent from another connection: behind a
transaction-pooling proxy (PgBouncer in transaction mode) it would not, and the daemon then
polls only, with a WARNING. After a reconnection the same check failing is a connection
still lost (it heard itself before), tried again, never a fall back to polling for good.
"""

from __future__ import annotations

import logging
import select
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from trading_monitor.db import pg
from trading_monitor.db.queries import Queries
from trading_monitor.db.session import connection_defaults

QUERIES = Queries(__name__)  # queries.sql beside this module

log = logging.getLogger(__name__)
CHANNEL = "trading_monitor_wakeup"
# What each notification wakes: the job the schedule would run for it.
JOB_OF = {"decision": "executor", "kill_switch": "executor", "exit": "position_monitor"}
SEND_TIMEOUT = 5  # seconds: the self-test's and pings' own connection, and its NOTIFY
UP, DOWN, STARTING, UNSUPPORTED, STOPPED = "up", "down", "starting", "unsupported", "stopped"


class ListenerLost(Exception):
    """The listening connection is gone or deaf (a ping went unanswered)."""


def job_for(payload: str) -> str | None:
    kind = payload.partition(":")[0]
    return JOB_OF.get(kind)


class NotifyListener:
    """A thread that LISTENs and calls `on_wake(job, payload)`; `on_up()` after each
    (re)connection that passed the self-test (the caller runs a catch-up cycle then)."""

    def __init__(self, listen_config: dict[str, Any], notify_config: dict[str, Any],
                 on_wake: Callable[[str, str], None], on_up: Callable[[], None], *,
                 ping_seconds: float = 30, ping_timeout: float = 5,
                 selftest_seconds: float = 3, retry_seconds: float = 1):
        self._listen_config, self._notify_config = listen_config, notify_config
        self._on_wake, self._on_up = on_wake, on_up
        self.ping_seconds, self.ping_timeout = ping_seconds, ping_timeout
        self.selftest_seconds, self.retry_seconds = selftest_seconds, retry_seconds
        self.state = STARTING
        self.connections = 0  # successful (re)connections: the tests watch it
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: Any = None

    def start(self) -> NotifyListener:
        self._thread = threading.Thread(target=self._run, name="notify-listener", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.state = STOPPED

    # -- the loop -----------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._conn = self._connect()
                if not self._self_test():
                    if self.connections:  # it heard itself before: slow or lost, not a proxy
                        raise ListenerLost("its own NOTIFY not heard back after reconnecting")
                    self.state = UNSUPPORTED
                    log.warning("WARNING: this daemon does not hear its own NOTIFY on %s (a "
                                "transaction-pooling proxy such as PgBouncer?): decisions "
                                "wait for the 2-minute poll", CHANNEL)
                    return
                self.state, self.connections = UP, self.connections + 1
                log.info("listening on %s: decisions act within a second", CHANNEL)
                self._on_up()
                self._serve()
            except (pg.Error, ListenerLost, OSError) as exc:
                if not self._stop.is_set():
                    self.state = DOWN
                    log.warning("WARNING: the notification listener is down (%s); "
                                "reconnecting, the poll covers the gap", exc)
            except Exception:  # a bug in a callback: never a dead thread that says "up"
                self.state = DOWN
                log.exception("WARNING: the notification listener failed; reconnecting, "
                              "the poll covers the gap")
            finally:
                self._close()
            self._stop.wait(self.retry_seconds)

    def _connect(self) -> Any:
        params = {**connection_defaults(), **{k: v for k, v in self._listen_config.items()
                                   if v not in (None, "")}}
        params["application_name"] = "trading-monitor notify listener"
        conn = pg.connect(**params)
        conn.set_isolation_level(pg.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
        with conn.cursor() as cur:
            cur.execute(QUERIES["listen_wakeups"])  # on CHANNEL
        return conn

    def _self_test(self) -> bool:
        """Send a NOTIFY from another connection (the triggers' database) and hear it."""
        token = f"selftest:{uuid.uuid4().hex}"
        self._send(token)
        return self._await(token, self.selftest_seconds)

    def _send(self, token: str) -> None:
        params = {**connection_defaults(), "connect_timeout": SEND_TIMEOUT,
                  "options": f"-c statement_timeout={SEND_TIMEOUT * 1000}",
                  **{k: v for k, v in self._notify_config.items() if v not in (None, "")}}
        sender = pg.connect(**params, application_name="trading-monitor notify self-test")
        try:
            sender.set_isolation_level(pg.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
            with sender.cursor() as cur:
                cur.execute(QUERIES["notify_self_test"], (CHANNEL, token))
        finally:
            sender.close()

    def _serve(self) -> None:
        next_ping = time.monotonic() + self.ping_seconds
        while not self._stop.is_set():
            self._drain(min(0.5, max(0.0, next_ping - time.monotonic())))
            if time.monotonic() >= next_ping:
                self._ping()
                next_ping = time.monotonic() + self.ping_seconds

    def _ping(self) -> None:
        token = f"ping:{uuid.uuid4().hex}"
        self._send(token)
        if not self._await(token, self.ping_timeout):
            raise ListenerLost(f"ping not heard back within {self.ping_timeout:g} s")

    def _await(self, token: str, seconds: float) -> bool:
        """Serve notifications until `token` comes back, or `seconds` pass."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self._stop.is_set():
            if token in self._drain(min(0.5, deadline - time.monotonic())):
                return True
        return False

    def _drain(self, wait: float) -> list[str]:
        """Wait up to `wait` for the socket, then hand over every notification; returns the
        payloads seen (the self-test and the pings look for theirs)."""
        if not self._conn.notifies:
            readable, _, _ = select.select([self._conn], [], [], wait)
            if readable:
                self._conn.poll()  # raises when the server has gone
        seen = []
        while self._conn.notifies:
            payload = self._conn.notifies.pop(0).payload
            seen.append(payload)
            job = job_for(payload)
            if job is not None:
                self._on_wake(job, payload)
        return seen

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except pg.Error:
                pass
            self._conn = None
