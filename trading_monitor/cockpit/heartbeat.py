"""The dead-man's switch: HEARTBEAT_URL in the healthchecks.io convention (the URL itself is
a success ping, URL/start says a run started, URL/fail says it failed; a body is shown with
the ping). Pinged from the daemon's heartbeat, on its own period, at all hours:

- only by the leader (the daemon that runs the trading jobs), and only while no trading job
  is past JOB_DEADLINE_SECONDS and trading is not paused by a fatal error;
- `/start` when this daemon becomes the leader;
- `/fail`, once per cause, when a fatal error pauses trading or a job is stuck, and when the
  daemon's scheduler dies.

So a dead host, a dead network, a stuck or a paused daemon all end the pings, and the check
(its period and grace in docs/operations.md) raises its alarm off the machine. A ping is sent
from its own thread with a 10 s timeout: it never holds the heartbeat up. The URL (its UUID is
the secret) is never logged.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.request
from collections.abc import Callable

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10
USER_AGENT = "trading-monitor heartbeat"


def post(url: str, body: str) -> None:
    request = urllib.request.Request(url, data=body.encode("utf-8")[:10_000], method="POST",
                                     headers={"User-Agent": USER_AGENT,
                                              "Content-Type": "text/plain; charset=utf-8"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:
        answer.read(1000)


class Pinger:
    def __init__(self, url: str | None, period_seconds: float, *,
                 clock: Callable[[], float] = time.monotonic,
                 send: Callable[[str, str], None] = post):
        self.url = (url or "").rstrip("/") or None
        self.period = period_seconds
        self._clock, self._send = clock, send
        self._last: float | None = None  # when the last success ping left
        self._leader = False
        self._failed_for: str | None = None  # the cause a /fail was sent for
        self._lock = threading.Lock()

    def beat(self, *, leader: bool, problem: str | None) -> str | None:
        """Called by every heartbeat; returns what was pinged ("", "/start", "/fail")."""
        if self.url is None:
            return None
        with self._lock:
            if problem is not None:
                if not leader or problem == self._failed_for:
                    return None
                self._failed_for, self._last = problem, None
                path, body = "/fail", problem
            elif not leader:
                self._leader, self._last = False, None
                return None
            elif not self._leader:
                self._leader, self._failed_for, self._last = True, None, self._clock()
                path, body = "/start", "leader: the trading jobs run here"
            elif self._last is None or self._clock() - self._last >= self.period:
                self._failed_for, self._last = None, self._clock()
                path, body = "", "ok"
            else:
                return None
        self._ping(path, body)
        return path

    def fail(self, reason: str) -> None:
        """A fatal error outside the jobs (the scheduler died): /fail at once, waited for."""
        if self.url is not None:
            self._deliver("/fail", reason)

    def _ping(self, path: str, body: str) -> None:
        threading.Thread(target=self._deliver, args=(path, body), name="heartbeat ping",
                         daemon=True).start()

    def _deliver(self, path: str, body: str) -> None:
        assert self.url is not None
        try:
            self._send(self.url + path, body)
        except Exception as exc:  # the network may be the very thing that is down
            log.warning("heartbeat ping%s not delivered: %s", path or "", type(exc).__name__)
