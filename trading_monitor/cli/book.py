"""What `status` and `health` read from our tables: plain read-only queries, no broker.

Every age is measured against the clock the caller passes (the machine's by default).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from trading_monitor.db.connection import Row, TradingDB
from trading_monitor.db.pg import errors as pg_errors
from trading_monitor.db.queries import Queries
from trading_monitor.domain.market_time import NEW_YORK as NEW_YORK  # read as book.NEW_YORK
from trading_monitor.domain.market_time import day_bounds as day_bounds  # read as book.day_bounds
from trading_monitor.domain.market_time import new_york_date
from trading_monitor.domain.order_status import PROTECTS
from trading_monitor.exceptions import FatalError

QUERIES = Queries(__name__)  # queries.sql beside this module

HEARTBEAT_STALE = timedelta(minutes=3)
# A stop in one of these statuses protects its shares (a filled bracket's stop is `held`).
LIVE_STOP_STATUSES = tuple(sorted(PROTECTS))  # domain/order_status.py
ZERO = Decimal(0)






def read(db: TradingDB, query: str, params: dict[str, Any] | None = None) -> list[Row]:
    """Run a read; a missing table or column means the schema is behind the code."""
    try:
        return db.execute_query(query, params)
    except (pg_errors.UndefinedTable, pg_errors.UndefinedColumn) as exc:
        raise FatalError(f"the database schema is not current ({str(exc).strip()}); "
                         "run `trading-monitor migrate`") from None


def trading_day(now: datetime) -> date:
    """The New York calendar day of `now` (the jobs' trading day)."""
    return new_york_date(now)


def open_trades(db: TradingDB) -> list[Row]:
    return read(db, QUERIES["open_trades"], {"live": list(LIVE_STOP_STATUSES)})


def pnl_today(db: TradingDB, day: date, trades: list[Row]) -> dict[str, Any]:
    """Realised: trades CLOSED today (New York). Unrealised: the open positions' marks."""
    start, end = day_bounds(day)
    [row] = read(db, QUERIES["realised"], {"start": start, "end": end})
    marked = [t["unrealized_pnl"] for t in trades if t["unrealized_pnl"] is not None]
    unrealised = sum(marked, ZERO)
    realised = Decimal(row["realised"])
    return {"trading_day": day, "realised": realised, "closed_trades": int(row["closed"]),
            "unrealised": unrealised, "unmarked_positions": sum(
                1 for t in trades if t["status"] == "POSITION" and t["unrealized_pnl"] is None),
            "total": realised + unrealised}


def last_job_runs(db: TradingDB) -> list[Row]:
    return read(db, QUERIES["last_job_runs"])


def heartbeats(db: TradingDB, now: datetime) -> list[Row]:
    """Every daemon's heartbeat row, newest first, with its age and a stale flag."""
    rows = read(db, QUERIES["heartbeats"])
    for row in rows:
        row["age_seconds"] = int((now - row["beat_at"]).total_seconds())
        row["stale"] = now - row["beat_at"] > HEARTBEAT_STALE
    return rows


def ago(seconds: float) -> str:
    """`45 s`, `7 min`, `3 h 10 min`, `4 d 2 h`: how long, for a person."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60} min"
    return f"{hours // 24} d {hours % 24} h"




def unallocated_fees(db: TradingDB) -> dict[str, Any]:
    """FEE activities charged to no trade of ours (ledger/fees.py): the amount still open."""
    [row] = read(db, QUERIES["unallocated_fees"])
    return {"amount": Decimal(row["amount"]), "fees": int(row["fees"])}
