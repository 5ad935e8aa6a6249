"""`trading-monitor health [--json] [--no-broker]` (also `scripts/health_check.py`): a
Nagios-style check of the whole installation, read-only.

Checks: the database is reachable and its schema current; the broker is reachable and the
keys valid (one GET /v2/account); a daemon heartbeat is fresh and a leader exists; the last
run of each job succeeded; no order intent has waited in pending_submit over 5 minutes; no
open position lacks a live stop for its quantity; reconciliation passes; the broker's answers
carry every field we need (no broker_contract_error, and one read of each endpoint the jobs
use lacks nothing: broker_shapes); no halt is set; the last `trading-monitor check` found no
violation (CRITICAL if it did; with none recorded, the summary says that none ran); no
per-event message to NOTIFY_URLS failed for good in the last 24 hours (WARNING if one did).

Exit codes (the Nagios plugin convention): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (nothing
is configured here yet, the configuration cannot be read, or the check itself failed; with
nothing configured it says what to set up). The first line of output is the
summary, e.g. `CRITICAL: 1 unprotected position (trade #4 AAPL); heartbeat stale (last 7
min ago)`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, NoReturn

from trading_monitor.cli import health_checks as hc
from trading_monitor.cli.common import first_contact_hint, jsonable, setup_logging
from trading_monitor.cli.health_incident import check_account, check_incident
from trading_monitor.cli.health_shapes import check_broker_shapes
from trading_monitor.cli.last_check import NONE_RAN, check_invariants
from trading_monitor.clock import Clock, system_clock
from trading_monitor.cockpit.health import check_messages
from trading_monitor.db import pg
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.params import get_postgres_config
from trading_monitor.domain.market_time import new_york_date
from trading_monitor.exceptions import ConfigError, DatabaseUnavailable, TradingMonitorError
from trading_monitor.settings.config import Settings, load_settings

log = logging.getLogger(__name__)


def run_checks(db_config: dict[str, Any], settings: Settings, now: datetime, *,
               broker: bool = True) -> list[hc.Check]:
    """Every check, in order; without a database only the database and broker checks."""
    ctx = hc.Context(now=now, settings=settings, broker=broker)
    broker_check = [hc.check_broker(settings),
                    _guarded_broker(check_broker_shapes, settings, now)] if broker else []
    db = TradingDB(config=db_config, read_only=True, application_name="trading-monitor health")
    try:
        db.connect()
    except DatabaseUnavailable as exc:
        return [hc.Check("database", hc.CRITICAL, f"database unreachable ({_line(exc)})"),
                *broker_check]
    try:
        checks = [hc.Check("database", hc.OK, "database reachable"),
                  _guarded(hc.check_schema, db, ctx), *broker_check]
        # The account the broker check read (if it did), against the books'.
        seen = next((str(c.detail.get("account_id") or "") for c in broker_check
                     if c.name == "broker"), None)

        def check_account_id(d: TradingDB, c: hc.Context) -> hc.Check:
            return check_account(d, c, seen)
        check_account_id.__name__ = "check_account"
        fail_closed = (check_account_id, check_incident)
        return checks + [_guarded(check, db, ctx) for check in (*hc.DB_CHECKS, *fail_closed,
                                                                check_invariants,
                                                                check_messages)]
    finally:
        db.close()


def _guarded_broker(check: Callable[[Settings, date], hc.Check], settings: Settings,
                    now: datetime) -> hc.Check:
    try:
        return check(settings, new_york_date(now))
    except Exception as exc:  # a check that cannot run is UNKNOWN; the others still run
        return hc.Check(check.__name__.removeprefix("check_"), hc.UNKNOWN, _line(exc))


def _guarded(check: Callable[[TradingDB, hc.Context], hc.Check], db: TradingDB,
             ctx: hc.Context) -> hc.Check:
    """A check that cannot run is UNKNOWN, and the others still run."""
    name = check.__name__.removeprefix("check_")
    try:
        return check(db, ctx)
    except (pg.Error, TradingMonitorError) as exc:
        log.warning("health check %s could not run: %s", name, exc)
        return hc.Check(name, hc.UNKNOWN, f"{name} not checked ({_line(exc)})")


def _line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


# Within one state, what the summary names first: money at risk before plumbing.
SUMMARY_ORDER = ("account", "incident", "protection", "invariants", "database", "schema", "broker",
                 "broker_contract", "broker_shapes", "heartbeat", "intents", "reconciliation",
                 "jobs", "halts")


def _rank(c: hc.Check) -> tuple[int, int]:
    place = SUMMARY_ORDER.index(c.name) if c.name in SUMMARY_ORDER else len(SUMMARY_ORDER)
    return -hc.SEVERITY[c.state], place


def summary(checks: list[hc.Check]) -> str:
    """`STATE: problem; problem` (worst first), or `OK: N checks passed`."""
    state = hc.worst([c.state for c in checks])
    problems = sorted((c for c in checks if c.state != hc.OK), key=_rank)
    if not problems:
        # Said, not hidden: an OK with no invariant check behind it is a weaker OK.
        none_ran = any(c.name == "invariants" and c.message == NONE_RAN for c in checks)
        return (f"OK: {len(checks)} checks passed ({', '.join(c.name for c in checks)})"
                + (f"; {NONE_RAN}" if none_ran else ""))
    return f"{state}: " + "; ".join(c.message for c in problems)


def report(checks: list[hc.Check], now: datetime) -> dict[str, Any]:
    state = hc.worst([c.state for c in checks])
    return {"status": state, "exit_code": hc.EXIT_CODES[state], "summary": summary(checks),
            "as_of": now, "checks": [{"name": c.name, "status": c.state, "message": c.message,
                                      "detail": c.detail} for c in checks]}


class _PluginParser(argparse.ArgumentParser):
    """A usage error is UNKNOWN (3) for a Nagios plugin, not argparse's 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(hc.EXIT_CODES[hc.UNKNOWN], f"UNKNOWN: {self.prog}: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _PluginParser(prog="trading-monitor health", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print every check as JSON")
    parser.add_argument("--no-broker", action="store_true",
                        help="skip the broker check (no request to Alpaca)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="after the summary, one line per check")
    return parser


def _unknown(text: str, as_json: bool) -> int:
    line = f"UNKNOWN: {text}"
    print(json.dumps({"status": hc.UNKNOWN, "exit_code": 3, "summary": line, "checks": []})
          if as_json else line)
    return hc.EXIT_CODES[hc.UNKNOWN]


def main(argv: Sequence[str] | None = None, *, now: Clock = system_clock) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(need_broker=not args.no_broker)
        setup_logging("WARNING")  # stdout is the plugin's output; logs go to stderr
        at = now()
        checks = run_checks(get_postgres_config(settings=settings), settings, at,
                            broker=not args.no_broker)
    except ConfigError as exc:
        return _unknown("cannot read the configuration: " + "; ".join(exc.problems)
                        + first_contact_hint(), args.json)
    except Exception as exc:  # a plugin that breaks must say UNKNOWN, never crash
        log.exception("health check failed")
        return _unknown(f"health check failed: {type(exc).__name__}: {_line(exc)}", args.json)
    hint = first_contact_hint()
    if hint and any(c.name == "database" and c.state == hc.CRITICAL for c in checks):
        # Nothing is set up on this machine: a set-up to do, not an outage to page about.
        return _unknown(checks[0].message + hint, args.json)
    result = report(checks, at)
    if args.json:
        print(json.dumps(result, default=jsonable, indent=2))
    else:
        print(result["summary"])
        if args.verbose:
            for c in checks:
                print(f"  [{c.state}] {c.name}: {c.message}")
    return int(result["exit_code"])
