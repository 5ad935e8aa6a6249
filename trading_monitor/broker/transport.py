"""HTTP transport under alpaca-py: a timeout on every request and one request budget per process.

alpaca-py builds a plain requests.Session with no timeout and retries 429/504 itself (even
order POSTs). We hand it this session instead and switch its retries off, so every request
is timed out, counted, and paced under Alpaca's per-account limit, and retries are ours.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import requests

from trading_monitor.exceptions import TemporaryError


class RequestBudget:
    """A thread-safe token bucket shared by every job in the process (Alpaca: 200/min/account)."""

    def __init__(self, per_minute: int, *, max_wait: float = 30.0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.per_minute = per_minute
        self.max_wait = max_wait
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(per_minute)
        self._updated = clock()
        self._paused_until = 0.0

    def _refill(self, now: float) -> None:
        rate = self.per_minute / 60.0
        self._tokens = min(float(self.per_minute), self._tokens + (now - self._updated) * rate)
        self._updated = now

    def acquire(self) -> None:
        """Take one request slot, sleeping if needed; TemporaryError if that would take too long."""
        deadline = self._clock() + self.max_wait
        while True:
            with self._lock:
                now = self._clock()
                self._refill(now)
                wait = max(self._paused_until - now, 0.0)
                if wait == 0.0 and self._tokens >= 1:
                    self._tokens -= 1
                    return
                if wait == 0.0:
                    wait = (1 - self._tokens) * 60.0 / self.per_minute
            if now + wait > deadline:
                raise TemporaryError(
                    f"broker request budget exhausted; next slot in {wait:.1f}s", retry_after=wait)
            self._sleep(min(wait, 1.0))

    def pause_for(self, seconds: float) -> None:
        """The broker said slow down (Retry-After or X-Ratelimit-Reset): nobody sends until then."""
        with self._lock:
            now = self._clock()
            self._refill(now)  # credit the idle time before the pause, not after it
            self._paused_until = max(self._paused_until, now + max(seconds, 0.0))
            self._tokens = min(self._tokens, 0.0)


class RequestTally:
    """Every broker request this process sent, and the 429s among them (the cockpit's
    /metrics counters; never reset while the process lives)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.rate_limited = 0

    def count(self, status_code: int) -> None:
        with self._lock:
            self.requests += 1
            self.rate_limited += status_code == 429


TALLY = RequestTally()
_shared: dict[int, RequestBudget] = {}
_shared_lock = threading.Lock()


def shared_budget(per_minute: int, max_wait: float = 30.0) -> RequestBudget:
    """The process-wide budget for this rate (one per process, shared by all jobs)."""
    with _shared_lock:
        budget = _shared.get(per_minute)
        if budget is None:
            budget = _shared[per_minute] = RequestBudget(per_minute, max_wait=max_wait)
        return budget


def retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is not None:
        try:
            return max(float(value), 0.0)
        except ValueError:
            return None
    if _budget_spent(response):
        reset = response.headers.get("X-Ratelimit-Reset")
        try:
            return max(float(reset) - time.time(), 0.0) if reset else None
        except ValueError:
            return None
    return None


def _budget_spent(response: requests.Response) -> bool:
    """Remaining 0 out of a real limit (a limit of 0 means none is advertised)."""
    try:
        limit = int(response.headers.get("X-Ratelimit-Limit", "0"))
    except ValueError:
        return False
    return limit > 0 and response.headers.get("X-Ratelimit-Remaining") == "0"


class BudgetedSession(requests.Session):
    """requests.Session with a default timeout, the shared budget and a request counter."""

    def __init__(self, budget: RequestBudget, timeout: float):
        super().__init__()
        self.budget = budget
        self.timeout = timeout
        self.requests_sent = 0
        self.last_retry_after: float | None = None
        self._count_lock = threading.Lock()

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        self.budget.acquire()
        with self._count_lock:
            self.requests_sent += 1
        response = super().request(method, url, *args, **kwargs)
        TALLY.count(response.status_code)
        wait = retry_after_seconds(response)
        self.last_retry_after = wait if response.status_code == 429 else None
        if wait is not None and (response.status_code == 429 or _budget_spent(response)):
            self.budget.pause_for(wait)
        return response

    def __repr__(self) -> str:
        # Never show headers: they carry the API keys.
        return f"BudgetedSession(timeout={self.timeout}, requests_sent={self.requests_sent})"
