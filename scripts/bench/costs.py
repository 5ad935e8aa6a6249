"""What one run of a job costs (broker requests counted at the exchange, database
statements, wall time), and percentiles."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from trading_monitor.db.connection import TradingDB

from .lab import Exchange


@dataclass
class Cost:
    requests: int
    round_trips: int
    seconds: float
    detail: dict[str, int] = field(default_factory=dict)


@contextmanager
def costed(ex: Exchange, out: list[Cost]) -> Iterator[None]:
    """Broker requests (counted at the exchange), database statements and wall time."""
    ex.control.reset_counters()
    trips = TradingDB.round_trips
    started = time.perf_counter()
    yield
    seconds = time.perf_counter() - started
    detail = ex.requests()
    out.append(Cost(sum(detail.values()), TradingDB.round_trips - trips, seconds, detail))


def median_cost(costs: list[Cost]) -> Cost:
    """Requests and round trips of the first run (they repeat), the median wall time."""
    return Cost(costs[0].requests, costs[0].round_trips,
                statistics.median(c.seconds for c in costs), costs[0].detail)


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]



@dataclass
class Compared:
    """Ours beside the seed's plan on the same book."""

    n: int
    case: str
    ours: Cost
    seed: Cost
    note: str = ""
