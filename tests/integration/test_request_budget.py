"""RequestBudget (token bucket with injected clock/sleep) and BudgetedSession over real HTTP."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from tests.conftest import TEST_KEYS
from trading_monitor.broker.transport import BudgetedSession, RequestBudget
from trading_monitor.exceptions import TemporaryError

HEADERS = {"APCA-API-KEY-ID": TEST_KEYS["ALPACA_API_KEY"],
           "APCA-API-SECRET-KEY": TEST_KEYS["ALPACA_SECRET_KEY"]}


class FakeTime:
    """A clock that only moves when someone sleeps (an injection point of RequestBudget)."""

    def __init__(self, start: float = 1000.0):
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds


def budget(per_minute: int, t: FakeTime, max_wait: float = 30.0) -> RequestBudget:
    return RequestBudget(per_minute, max_wait=max_wait, clock=t.clock, sleep=t.sleep)


# -- RequestBudget with a fake clock ------------------------------------------------------


def test_allows_per_minute_immediate_requests():
    t = FakeTime()
    b = budget(60, t)
    for _ in range(60):
        b.acquire()
    assert t.sleeps == [] and t.now == 1000.0


def test_then_paces_at_per_minute_over_sixty_per_second():
    t = FakeTime()
    b = budget(120, t)  # 2 per second
    for _ in range(120):
        b.acquire()
    started = t.now
    b.acquire()
    assert t.now - started == pytest.approx(0.5)
    for _ in range(10):
        b.acquire()
    assert t.now - started == pytest.approx(5.5)
    assert all(s <= 1.0 for s in t.sleeps)


def test_idle_time_refills_but_never_beyond_per_minute():
    t = FakeTime()
    b = budget(60, t)
    for _ in range(60):
        b.acquire()
    t.now += 10  # 10 tokens back
    for _ in range(10):
        b.acquire()
    assert t.sleeps == []
    b.acquire()
    assert sum(t.sleeps) == pytest.approx(1.0)
    t.now += 3600  # a long idle: the bucket is full, not 3600 tokens
    t.sleeps.clear()
    for _ in range(60):
        b.acquire()
    assert t.sleeps == []
    b.acquire()
    assert sum(t.sleeps) == pytest.approx(1.0)


def test_pause_for_blocks_everyone_until_then():
    t = FakeTime()
    b = budget(6000, t)  # plenty of tokens
    b.acquire()
    b.pause_for(5)
    b.acquire()
    assert t.now - 1000.0 >= 5.0
    assert t.now - 1000.0 == pytest.approx(5.0, abs=0.02)
    # sleeps are chunked (at most 1 s) so a shorter pause set meanwhile is not overslept
    assert all(s <= 1.0 for s in t.sleeps) and len(t.sleeps) >= 5


def test_pause_for_never_shortens_an_existing_pause():
    t = FakeTime()
    b = budget(6000, t)
    b.pause_for(4)
    b.pause_for(1)
    b.pause_for(-3)
    b.acquire()
    assert t.now - 1000.0 == pytest.approx(4.0, abs=0.02)


def test_pause_applies_across_threads():
    # real clock: a short pause set by one thread holds back another
    b = RequestBudget(60_000, max_wait=5)
    b.pause_for(0.3)
    done: list[float] = []
    started = time.monotonic()
    th = threading.Thread(target=lambda: (b.acquire(), done.append(time.monotonic())))
    th.start()
    th.join(5)
    assert done and done[0] - started >= 0.28


def test_acquire_raises_temporary_error_when_wait_exceeds_max_wait():
    t = FakeTime()
    b = budget(60, t, max_wait=0.5)
    for _ in range(60):
        b.acquire()
    with pytest.raises(TemporaryError) as err:
        b.acquire()
    assert "budget exhausted" in str(err.value)
    assert err.value.retry_after == pytest.approx(1.0)
    assert t.sleeps == []  # it gave up at once rather than sleeping first


def test_acquire_raises_when_paused_longer_than_max_wait():
    t = FakeTime()
    b = budget(6000, t, max_wait=5)
    b.pause_for(10)
    with pytest.raises(TemporaryError) as err:
        b.acquire()
    assert err.value.retry_after == pytest.approx(10.0)
    assert t.now == 1000.0
    t.now += 10
    b.acquire()  # after the pause it goes through


def test_wait_within_max_wait_sleeps_then_succeeds():
    t = FakeTime()
    b = budget(60, t, max_wait=2)
    for _ in range(60):
        b.acquire()
    b.acquire()
    assert sum(t.sleeps) == pytest.approx(1.0)


def test_after_a_pause_no_burst_of_stale_tokens():
    t = FakeTime()
    b = budget(60, t)
    for _ in range(60):
        b.acquire()
    t.now += 120  # idle: bucket refills to 60 (but only on the next refill)
    b.pause_for(5)  # the broker said 429: empty the bucket, nobody sends for 5 s
    t.now += 5
    sent_without_waiting = 0
    while not t.sleeps and sent_without_waiting < 100:
        b.acquire()
        sent_without_waiting += 1
    # at 1/s, at most the ~5 tokens earned during the pause (plus the one that waited)
    assert sent_without_waiting <= 7


def test_thread_safety_never_exceeds_the_budget():
    per_minute = 3000  # 50 per second
    rate = per_minute / 60
    b = RequestBudget(per_minute, max_wait=10)
    threads, each = 8, 380  # 3040: 40 beyond the burst, about 0.8 s of pacing
    stamps: list[float] = []
    lock = threading.Lock()
    start = time.monotonic()

    def work() -> None:
        for _ in range(each):
            b.acquire()
            now = time.monotonic()
            with lock:
                stamps.append(now)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join(20)
    elapsed = time.monotonic() - start
    assert len(stamps) == threads * each
    stamps.sort()
    for i, at in enumerate(stamps):
        allowed = per_minute + (at - start) * rate + 1
        assert i + 1 <= allowed, f"acquire #{i + 1} at {at - start:.3f}s beat the budget"
    assert elapsed >= (threads * each - per_minute) / rate * 0.9
    assert elapsed < 10


# -- BudgetedSession against the paper exchange -------------------------------------------


@pytest.fixture
def ctl(exchange):
    ctl = exchange.control
    # A real limit far away: the exchange then sends ordinary X-Ratelimit headers.
    ctl.set_rate_limit(1_000_000)
    return ctl


def test_session_counts_requests_and_spends_the_budget(exchange, ctl):
    b = RequestBudget(3, max_wait=0)
    s = BudgetedSession(b, timeout=5)
    for _ in range(3):
        resp = s.get(exchange.url + "/v2/clock", headers=HEADERS)
        assert resp.status_code == 200 and resp.json()["is_open"] is True
    assert s.requests_sent == 3
    with pytest.raises(TemporaryError):
        s.get(exchange.url + "/v2/clock", headers=HEADERS)
    assert s.requests_sent == 3
    assert ctl.counters() == {"GET /v2/clock": 3}  # the fourth never left the process


def test_session_default_timeout(exchange, ctl):
    s = BudgetedSession(RequestBudget(1000), timeout=0.3)
    assert s.timeout == 0.3
    ctl.set_fault("GET /v2/clock", "hang", seconds=1, count=1)
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        s.get(exchange.url + "/v2/clock", headers=HEADERS)
    assert time.monotonic() - started < 0.95
    assert s.requests_sent == 1


def test_session_explicit_timeout_wins(exchange, ctl):
    s = BudgetedSession(RequestBudget(1000), timeout=0.2)
    ctl.set_fault("GET /v2/clock", "latency", ms=400, count=1)
    resp = s.get(exchange.url + "/v2/clock", headers=HEADERS, timeout=5)
    assert resp.status_code == 200


def test_session_429_retry_after_pauses_the_budget(exchange, ctl):
    b = RequestBudget(1000, max_wait=0)
    s = BudgetedSession(b, timeout=5)
    ctl.set_fault("GET /v2/clock", "http_status", status=429, retry_after=2, count=1)
    resp = s.get(exchange.url + "/v2/clock", headers=HEADERS)
    assert resp.status_code == 429
    assert s.last_retry_after == 2.0
    with pytest.raises(TemporaryError) as err:
        s.get(exchange.url + "/v2/clock", headers=HEADERS)
    assert 1.5 < err.value.retry_after <= 2.0
    assert ctl.counters() == {"GET /v2/clock": 1}


def test_session_repr_hides_headers(exchange, ctl):
    s = BudgetedSession(RequestBudget(1000), timeout=4)
    s.headers.update(HEADERS)
    s.get(exchange.url + "/v2/clock")
    text = repr(s)
    assert text == "BudgetedSession(timeout=4, requests_sent=1)"
    for secret in HEADERS.values():
        assert secret not in text


def test_limiter_off_headers_do_not_pause(exchange):
    # the conftest exchange runs with rate_limit_per_min=None and advertises
    # X-Ratelimit-Limit: 0 / X-Ratelimit-Remaining: 0, which means "no limit", not "spent"
    s = BudgetedSession(RequestBudget(100_000, max_wait=0), timeout=5)
    for _ in range(5):
        resp = s.get(exchange.url + "/v2/clock", headers=HEADERS)
        assert resp.headers["X-Ratelimit-Limit"] == "0"
    assert s.requests_sent == 5


def test_spent_real_limit_pauses_until_reset(exchange, ctl):
    ctl.set_rate_limit(2)
    s = BudgetedSession(RequestBudget(100_000, max_wait=0), timeout=5)
    s.get(exchange.url + "/v2/clock", headers=HEADERS)
    last = s.get(exchange.url + "/v2/clock", headers=HEADERS)
    assert last.status_code == 200 and last.headers["X-Ratelimit-Remaining"] == "0"
    assert s.last_retry_after is None  # not a 429
    with pytest.raises(TemporaryError) as err:
        s.get(exchange.url + "/v2/clock", headers=HEADERS)
    # 2 per minute: the bucket is full again in about a minute
    assert 30 < err.value.retry_after <= 61
    assert ctl.counters() == {"GET /v2/clock": 2}
