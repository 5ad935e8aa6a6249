"""The time a job works with. Jobs take a clock as an argument and never read the wall
clock themselves, so the paper exchange's simulated time can drive tests and the demo."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The machine's clock, in UTC."""
    return datetime.now(timezone.utc)


def fixed_clock(moment: datetime) -> Clock:
    """A clock that stands still (tests and replays)."""
    if moment.tzinfo is None:
        raise ValueError("a clock needs an aware datetime")
    return lambda: moment


def broker_clock(read_broker_time: Callable[[], datetime],
                 monotonic: Callable[[], float] = time.monotonic) -> Clock:
    """The broker's time (a paper exchange's simulated clock): read once, on first use, then
    carried forward by the machine's monotonic clock. One request per clock: a one-shot
    job makes one per run; the daemon one at start (daemon/main.py)."""
    anchor: list[tuple[datetime, float]] = []

    def now() -> datetime:
        if not anchor:
            anchor.append((read_broker_time(), monotonic()))
        start, mono = anchor[0]
        return start + timedelta(seconds=monotonic() - mono)

    return now


class _HasClock(Protocol):
    def get_clock(self) -> Any: ...


def job_clock(source: str, broker: _HasClock) -> Clock:
    """CLOCK_SOURCE: `system`, or `broker` (a paper exchange's simulated time)."""
    if source == "broker":
        return broker_clock(lambda: broker.get_clock().timestamp)
    return system_clock
