"""`trading-monitor check [--json] [--no-broker]` (also `scripts/check_invariants.py`): the
invariant checker. It reads the books and the broker, and writes only its result (one
system_state row, `invariant_check`, which `health` shows). See docs/invariants.md.

Exit codes: 0 every invariant holds (warnings may be printed); 1 a violation; 2 the
configuration; 3 the books or the broker could not be read (nothing was checked).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.cli.common import EXIT_TEMPORARY, handles_errors, setup_logging
from trading_monitor.cli.last_check import record_check
from trading_monitor.clock import Clock
from trading_monitor.db import pg
from trading_monitor.db.params import get_postgres_config
from trading_monitor.exceptions import ConfigError, TradingMonitorError
from trading_monitor.invariants import render
from trading_monitor.invariants.run import Options, run_check
from trading_monitor.settings.config import load_settings


def _since(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trading-monitor check", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-broker", action="store_true",
                        help="do not read the broker: skip live_stop and the broker's part "
                             "of books_agree, single_entry and orders_are_real")
    parser.add_argument("--pending-age-hours", type=float, default=24.0, metavar="HOURS",
                        help="warn about a decision still pending after this long (24)")
    parser.add_argument("--halt-race-seconds", type=float, default=5.0, metavar="SECONDS",
                        help="an entry this soon after a halt was set is a warning, not a "
                             "violation (5)")
    parser.add_argument("--first-decision", type=int, default=0, metavar="ID",
                        help="leave decisions with a lower id out of terminal_state (rows "
                             "marked executed before this executor was installed)")
    parser.add_argument("--since", type=_since, metavar="ISO_TIME",
                        help="list the broker's orders from this time (default: a minute "
                             "before our first order)")
    return parser


def _cannot_read(what: str, as_json: bool) -> int:
    line = f"check could not run: {' '.join(what.split())}"
    if as_json:
        print(json.dumps({"ok": False, "exit_code": EXIT_TEMPORARY, "summary": line}))
    else:
        print(line, file=sys.stderr)
    return EXIT_TEMPORARY


@handles_errors
def main(argv: Sequence[str] | None = None, *, now: Clock | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = load_settings(need_broker=not args.no_broker)
    setup_logging("WARNING")  # stdout is the report; logs go to stderr
    broker = None if args.no_broker else AlpacaBroker(settings)
    options = Options(pending_age=timedelta(hours=args.pending_age_hours),
                      halt_race=timedelta(seconds=args.halt_race_seconds), since=args.since,
                      first_decision=args.first_decision)
    db_config = get_postgres_config(settings=settings)
    try:
        report = run_check(db_config, broker, settings, now=now, options=options)
    except ConfigError:
        raise
    except (TradingMonitorError, pg.Error, RuntimeError) as exc:
        # Database or broker away, keys refused, schema missing: nothing could be checked.
        return _cannot_read(f"{type(exc).__name__}: {exc}", args.json)
    print(render.as_json(report) if args.json else render.text(report))
    not_kept = record_check(db_config, report)  # for `health` (cli/last_check.py)
    if not_kept:
        print(f"check: {not_kept}", file=sys.stderr)
    return report.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
