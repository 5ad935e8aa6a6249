"""The jobs' clock on their rows: created_at and updated_at say the job's time.

`job_clock` holds the clock of the job running in this context (runs.JobRun sets it for the
run; a TradingDB may carry its own). Every statement a writing TradingDB sends under a clock
first sets `trading_monitor.now` for its transaction, in the same round trip, and the database
stamps created_at and updated_at with that time (migration 0014's tm_now(), the column
defaults and the updated_at trigger). So rows carry the jobs' clock, simulated in the demo;
edits made outside the jobs (NocoDB, psql) get the database's now().
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from datetime import datetime
from typing import Any

from psycopg2 import sql

from trading_monitor.db.queries import Queries

QUERIES = Queries(__name__)  # queries.sql beside this module
Clock = Callable[[], datetime]
job_clock: contextvars.ContextVar[Clock | None] = contextvars.ContextVar("job_clock",
                                                                        default=None)


def on_job_clock(statement: Any, own: Clock | None) -> Any:
    """The statement, preceded by the clock's time when there is a clock (`own`, else the
    context's); a clock that cannot be read (a broker clock whose broker is away) leaves the
    database's time."""
    clock = own or job_clock.get()
    if clock is None:
        return statement
    try:
        at = clock()
    except Exception:
        return statement
    body = statement if isinstance(statement, sql.Composable) else sql.SQL(statement)
    # A psycopg2.sql template whose one placeholder takes the time, as a literal.
    set_now = sql.SQL(QUERIES["db_clock_set_now"]).format(sql.Literal(at.isoformat()))
    return set_now + sql.SQL(" ") + body


def for_one_run(clock: Clock) -> Clock:
    """The clock for one job run's statements: once it has failed, it is not asked again
    in that run (a broker clock's first read is a request; its broker may be away)."""
    failed: list[BaseException] = []

    def now() -> datetime:
        if failed:
            raise failed[0]
        try:
            return clock()
        except Exception as exc:
            failed.append(exc)
            raise

    return now
