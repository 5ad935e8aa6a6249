"""What every health check shares: the Nagios states, a check's result and its context."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from trading_monitor.settings.config import Settings

OK, WARNING, CRITICAL, UNKNOWN = "OK", "WARNING", "CRITICAL", "UNKNOWN"
EXIT_CODES = {OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3}
# The combined state is the worst one, in this order (CRITICAL beats everything).
SEVERITY = {OK: 0, UNKNOWN: 1, WARNING: 2, CRITICAL: 3}
PENDING_SUBMIT_LIMIT = timedelta(minutes=5)
RUNNING_TOO_LONG = timedelta(hours=1)
# A miss is news for a day; some jobs (eod_flatten, the evening runs) log their real runs
# under another job's name, so their last row can be an old miss.
MISSED_RECENT = timedelta(hours=24)


@dataclass(frozen=True)
class Check:
    name: str
    state: str
    message: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Context:
    now: datetime
    settings: Settings
    broker: bool = False  # may the checks read the broker (not with --no-broker)


def worst(states: list[str]) -> str:
    return max(states, key=SEVERITY.__getitem__, default=OK)


