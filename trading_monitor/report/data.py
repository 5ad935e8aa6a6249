"""The daily report's rows: read from the database alone (no broker), with the SQL in
queries.sql beside this file."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from trading_monitor.db.connection import Row, TradingDB
from trading_monitor.db.queries import Queries
from trading_monitor.domain.market_time import NEW_YORK as NEW_YORK  # report, commands
from trading_monitor.domain.market_time import day_bounds as day_bounds  # report.period
from trading_monitor.domain.order_status import SQL_PARAMS
from trading_monitor.engine.account_guard import trades_held_elsewhere
from trading_monitor.engine.corporate_reads import open_trade_flags
from trading_monitor.engine.exits_working import describe as describe_exit
from trading_monitor.engine.exits_working import working_exits
from trading_monitor.engine.incident_state import open_incident

QUERIES = Queries(__name__)  # queries.sql beside this module
WINDOW_DAYS = 30  # the chart's history: the last 30 calendar days up to the report's day


@dataclass(frozen=True)
class DayRows:
    day: date
    start: datetime  # the day's New York midnights
    end: datetime
    window_start: datetime
    trades: list[Row]  # every trade holding shares in [window_start, end)
    decisions: list[Row]
    alerts: list[Row]
    jobs: list[Row]
    failed_runs: list[Row]
    history: list[Row]
    unallocated_fees: list[Row] = field(default_factory=list)  # FEEs charged to no trade
    incident: dict[str, Any] | None = None  # an open reconciliation incident, as it stands
    corporate_actions: list[str] = field(default_factory=list)  # of open trades' symbols
    exits_working: list[str] = field(default_factory=list)  # market exits not filled yet
    held_elsewhere: list[str] = field(default_factory=list)  # at an earlier account (issue 27)


def query(db: TradingDB, name: str, params: dict[str, Any]) -> list[Row]:
    return db.execute_query(QUERIES[name], params)


def load(db: TradingDB, day: date) -> DayRows:
    start, end = day_bounds(day)
    first_day = day - timedelta(days=WINDOW_DAYS - 1)
    window_start, _ = day_bounds(first_day)
    bounds = {"start": start, "end": end}
    return DayRows(
        day=day, start=start, end=end, window_start=window_start,
        trades=query(db, "trades_active", {"end": end, "window_start": window_start,
                                            **SQL_PARAMS}),
        decisions=query(db, "decision_outcomes", bounds),
        alerts=query(db, "alerts", bounds),
        jobs=query(db, "job_health", bounds),
        failed_runs=query(db, "failed_runs", bounds),
        history=query(db, "daily_history", {"first_day": first_day, "day": day}),
        unallocated_fees=query(db, "unallocated_fees", {"day": day}),
        incident=open_incident(db),
        corporate_actions=open_trade_flags(db, day),
        exits_working=[describe_exit(r) for r in working_exits(db)],
        held_elsewhere=[f"trade #{t['id']} {t['symbol']} {t['status']} at account "
                        f"{t['broker_account_id']}" for t in trades_held_elsewhere(db)],
    )


def already_delivered(db: TradingDB, day: date) -> bool:
    return bool(query(db, "report_delivered", {"day": day.isoformat()}))
