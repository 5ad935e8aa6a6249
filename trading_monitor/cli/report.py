"""`trading-monitor report [--date D] [--out DIR]`: write the daily report (Markdown, JSON
and a PNG chart) from the database alone, no broker. See docs/report.md.

`--period week|month` (the calendar week or month holding --date) or `--from D --to D`
print a report over that period instead, whole or `--by symbol`: P&L, win rate, average R,
slippage and the protection window (Markdown; `--json` for JSON).

The day defaults to the latest trading day in New York time by the jobs' clock: the
machine's, or with CLOCK_SOURCE=broker the latest time a job recorded (a paper exchange's
simulated day), so the report of a simulated day needs no broker either.

Exit codes: 0 written; 1 the schema is not current; 2 configuration; 3 database unreachable.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from trading_monitor.cli.common import EXIT_OK, handles_errors, jsonable, setup_logging
from trading_monitor.clock import Clock, system_clock
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.params import get_postgres_config
from trading_monitor.db.queries import Queries
from trading_monitor.domain.market_time import NEW_YORK, SESSION_OPEN
from trading_monitor.report import period as periods
from trading_monitor.report import write_report
from trading_monitor.settings.config import ClockSource, Settings, load_settings

QUERIES = Queries(__name__)  # queries.sql beside this module


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
    rows = db.execute_query(QUERIES["last_job_time"])
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
    over = parser.add_argument_group("a report over a period, printed (not the daily files)")
    over.add_argument("--period", choices=periods.PERIODS,
                      help="the calendar week (Monday to Sunday) or month holding --date")
    over.add_argument("--from", dest="first", type=_day, metavar="YYYY-MM-DD",
                      help="the first New York day (with --to)")
    over.add_argument("--to", dest="last", type=_day, metavar="YYYY-MM-DD",
                      help="the last New York day, included")
    over.add_argument("--by", choices=("symbol",), help="one row per symbol besides the total")
    over.add_argument("--json", action="store_true", help="JSON instead of Markdown")
    return parser


def _check(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Usage errors (exit 2) before any connection."""
    if args.period and (args.first or args.last):
        parser.error("--period or --from/--to, not both")
    if (args.first is None) != (args.last is None):
        parser.error("--from and --to go together")
    if args.first is not None and args.last < args.first:
        parser.error("--to is before --from")
    if (args.by or args.json) and not (args.period or args.first):
        parser.error("--by and --json go with --period or --from/--to")


def _period(args: argparse.Namespace, day: date) -> periods.Period | None:
    if args.first is not None:
        return periods.Period(args.first, args.last)
    return periods.calendar_period(args.period, day) if args.period else None


@handles_errors
def main(argv: Sequence[str] | None = None, *, now: Clock | None = None) -> int:
    settings = load_settings()
    parser = _parser(settings)
    args = parser.parse_args(argv)
    _check(args, parser)
    setup_logging(settings.log_level)
    with TradingDB(config=get_postgres_config(settings=settings), read_only=True,
                   application_name="trading-monitor report") as db:
        day = args.date or latest_trading_day((now or _jobs_clock(db, settings))())
        period = _period(args, day)
        if period is not None:
            result = periods.compute(periods.load(db, period), period, args.by == "symbol")
            print(json.dumps(result, default=jsonable, indent=2) if args.json
                  else periods.render(result), end="" if not args.json else "\n")
            return EXIT_OK
        files = write_report(db, day, args.out)
    print(f"report of {day.isoformat()}:")
    for path in (files.markdown, files.json, files.chart):
        print(f"  {path}")
    return EXIT_OK
