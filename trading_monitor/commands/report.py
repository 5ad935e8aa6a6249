"""`trading-monitor report [--date D] [--out DIR]`: write the daily report (Markdown, JSON
and a PNG chart) from the database alone, no broker. See docs/report.md.

The day defaults to the latest trading day in New York time by the jobs' clock: the
machine's, or with CLOCK_SOURCE=broker the latest time a job recorded (a paper exchange's
simulated day), so the report of a simulated day needs no broker either.

Exit codes: 0 written; 1 the schema is not current; 2 configuration; 3 database unreachable.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from trading_monitor.clock import Clock, system_clock
from trading_monitor.commands.common import EXIT_OK, handles_errors, setup_logging
from trading_monitor.config import ClockSource, Settings, get_postgres_config, load_settings
from trading_monitor.db_layer import TradingDB
from trading_monitor.report import write_report
from trading_monitor.report.data import NEW_YORK

SESSION_OPEN = time(9, 30)
LAST_JOB_TIME = ("SELECT max(started_at) AS at FROM job_run "
                 "WHERE status NOT IN ('MISSED', 'SKIPPED')")  # those carry the machine's time


def latest_trading_day(now: datetime) -> date:
    """Today in New York once its session has opened, else the weekday before; Saturday
    and Sunday give Friday. A holiday is not known without the broker: pass --date."""
    local = now.astimezone(NEW_YORK)
    day = local.date() if local.time() >= SESSION_OPEN else local.date() - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def recorded_clock(db: TradingDB) -> Clock | None:
    """The jobs' clock as the database last saw it (None before any job ran)."""
    rows = db.execute_query(LAST_JOB_TIME)
    at = rows[0]["at"] if rows else None
    return (lambda: at) if at is not None else None


def _jobs_clock(db: TradingDB, settings: Settings) -> Clock:
    if settings.clock_source is ClockSource.BROKER:
        return recorded_clock(db) or system_clock
    return system_clock


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a date like 2026-11-20") from None


def _parser(settings: Settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trading-monitor report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--date", type=_day, metavar="YYYY-MM-DD",
                        help="the New York trading day (default: the latest)")
    parser.add_argument("--out", metavar="DIR", default=settings.report_dir,
                        help=f"where to write (default: REPORT_DIR, {settings.report_dir})")
    return parser


@handles_errors
def main(argv: Sequence[str] | None = None, *, now: Clock | None = None) -> int:
    settings = load_settings()
    args = _parser(settings).parse_args(argv)
    setup_logging(settings.log_level)
    with TradingDB(config=get_postgres_config(settings=settings), read_only=True,
                   application_name="trading-monitor report") as db:
        day = args.date or latest_trading_day((now or _jobs_clock(db, settings))())
        files = write_report(db, day, args.out)
    print(f"report of {day.isoformat()}:")
    for path in (files.markdown, files.json, files.chart):
        print(f"  {path}")
    return EXIT_OK
