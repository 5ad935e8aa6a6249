"""PostgreSQL advisory locks held on a job's own connection (released if it dies)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from trading_monitor.db.connection import TradingDB
from trading_monitor.db.queries import Queries
from trading_monitor.exceptions import TemporaryError

QUERIES = Queries(__name__)  # queries.sql beside this module


def try_lock(db: TradingDB, key: int) -> bool:
    return bool(db.execute_query(QUERIES["locks_try_lock"], [key])[0]["ok"])


def unlock(db: TradingDB, key: int) -> None:
    db.execute_query(QUERIES["locks_unlock"], [key])


def wait_for_lock(db: TradingDB, key: int, name: str, wait_seconds: float,
                  sleep: Callable[[float], None]) -> None:
    """Take the session lock, waiting up to `wait_seconds` for whoever holds it."""
    waited = 0.0
    while not try_lock(db, key):
        if waited >= wait_seconds:
            raise TemporaryError(f"another {name} has held its lock for {wait_seconds:.0f}s; "
                                 "this cycle did nothing")
        sleep(0.2)
        waited += 0.2


@contextmanager
def hold_lock(db: TradingDB, key: int, name: str, wait_seconds: float,
              sleep: Callable[[float], None]) -> Iterator[None]:
    wait_for_lock(db, key, name, wait_seconds, sleep)
    try:
        yield
    finally:
        if db.connection is not None:
            unlock(db, key)
