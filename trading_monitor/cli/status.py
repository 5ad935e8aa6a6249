"""`trading-monitor status [--json]`: the book at a glance, read-only, no broker.

Open trades (stop level from the live stop order, unrealised P&L from the last mark), P&L
today in New York time, the last run of every job, every halt and the daemons' heartbeats.

Exit codes: 0 shown; 1 the schema is not current; 2 configuration; 3 database unreachable.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from trading_monitor.cli import book
from trading_monitor.cli.common import EXIT_OK, handles_errors, jsonable, setup_logging
from trading_monitor.clock import Clock, system_clock
from trading_monitor.db.connection import Row, TradingDB
from trading_monitor.db.params import get_postgres_config
from trading_monitor.engine.account_guard import (
    MISMATCH_KEY,
    recorded_account,
    trades_held_elsewhere,
)
from trading_monitor.engine.corporate_reads import open_trade_flags
from trading_monitor.engine.exits_working import describe as describe_exit
from trading_monitor.engine.exits_working import overdue as overdue_exits
from trading_monitor.engine.halts import halt_states
from trading_monitor.engine.incident_state import open_incident
from trading_monitor.engine.symbol_halts import halted
from trading_monitor.settings.config import Settings, load_settings

TRADE_FIELDS = ("id", "symbol", "side", "status", "qty", "entry_price", "stop_price",
                "current_price", "unrealized_pnl", "mark_stale")
JOB_FIELDS = ("job_name", "status", "started_at", "finished_at", "error", "run_id")
DAEMON_FIELDS = ("host", "pid", "role", "beat_at", "age_seconds", "stale", "trading_paused")


def gather(db: TradingDB, settings: Settings, now: datetime) -> dict[str, Any]:
    """Everything `status` shows, as plain data (the --json object)."""
    day = book.trading_day(now)
    trades = book.open_trades(db)
    daemons = book.heartbeats(db, now)
    leader = next((d for d in daemons if d["role"] == "leader" and not d["stale"]), None)
    return {
        "as_of": now, "trading_day": day,
        "open_trades": [_pick(t, TRADE_FIELDS) for t in trades],
        "pnl_today": book.pnl_today(db, day, trades),
        "unallocated_fees": book.unallocated_fees(db),
        "jobs": [_pick(j, JOB_FIELDS) for j in book.last_job_runs(db)],
        "halts": halt_states(db, day, settings.trading_halted),
        "daemons": [_pick(d, DAEMON_FIELDS) for d in daemons],
        "leader": _pick(leader, ("host", "pid", "beat_at")) if leader else None,
        "corporate_actions": open_trade_flags(db, day),  # issue 21
        "symbols_halted": halted(db),
        "exits_working": [describe_exit(r) for r in overdue_exits(
            db, now, timedelta(seconds=settings.exit_working_alert_seconds))],
        **fail_closed(db),
    }


def fail_closed(db: TradingDB) -> dict[str, Any]:
    """The books' broker account (and a mismatch a job found; the open trades held at an
    earlier account, not managed), and an open reconciliation incident with the trades it
    holds (issue 27)."""
    mismatch = db.named("system_value", {"key": MISMATCH_KEY})
    return {"broker_account": {"books": recorded_account(db),
                               "mismatch": (mismatch[0]["value"] or None) if mismatch
                               else None,
                               "held_elsewhere": [_pick(t, ("id", "symbol", "status",
                                                            "broker_account_id"))
                                                  for t in trades_held_elsewhere(db)]},
            "incident": open_incident(db)}


def _pick(row: Row, fields: Sequence[str]) -> dict[str, Any]:
    return {f: row.get(f) for f in fields}



def _cell(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.astimezone(book.NEW_YORK).strftime("%Y-%m-%d %H:%M:%S %Z")
    return str(value)


def _table(title: str, headers: Sequence[str], rows: list[list[Any]], empty: str) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    for header in headers:
        table.add_column(header)
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    if not rows:
        table.add_row(empty, *([""] * (len(headers) - 1)))
    return table


def render(report: dict[str, Any], console: Console) -> None:
    trades = [[t["id"], t["symbol"], t["side"], t["status"], t["qty"], t["entry_price"],
               t["stop_price"], t["unrealized_pnl"], t["mark_stale"]]
              for t in report["open_trades"]]
    console.print(_table("Open trades", ["#", "symbol", "side", "status", "qty", "entry",
                                         "stop", "unrealised P&L", "stale"], trades, "none"))
    p = report["pnl_today"]
    console.print(_table(f"P&L today ({p['trading_day']}, New York)",
                         ["realised", "closed trades", "unrealised", "total"],
                         [[p["realised"], p["closed_trades"], p["unrealised"], p["total"]]], ""))
    fees = report["unallocated_fees"]
    if fees["amount"]:
        console.print(f"unallocated fees: {fees['amount']} (FEE activities matching no fill "
                      "of ours, borrow fees and dividend debits no short of ours explains; "
                      "docs/order-monitor.md, Fees)")
    for line in report["corporate_actions"]:
        console.print(f"corporate action: {line}")
    for line in report["exits_working"]:
        console.print(f"EXIT NOT FILLED: {line}")
    for symbol, why in report["symbols_halted"].items():
        if why.get("lifted_at"):  # a resume status: entries go on (symbol_halts.LIFT_GRACE)
            console.print(f"halt lifted: {symbol} at {why['lifted_at']} ({why.get('source')})")
            continue
        console.print(f"HALTED? {symbol}: {why.get('source')} since {why.get('since')}; its "
                      "stop is kept, new entries wait")
    jobs = [[j["job_name"], j["status"], j["finished_at"], j["error"]] for j in report["jobs"]]
    console.print(_table("Last run of each job", ["job", "status", "finished", "error"], jobs,
                         "no job has run yet"))
    halts = [[h["key"], "ACTIVE" if h["active"] else "off", h["value"], h["reason"]]
             for h in report["halts"]]
    console.print(_table("Halts", ["halt", "state", "value", "reason"], halts, ""))
    daemons = [[d["host"], d["pid"], d["role"], d["beat_at"],
                book.ago(d["age_seconds"]) + " ago", d["stale"]] for d in report["daemons"]]
    console.print(_table("Daemons", ["host", "pid", "role", "last beat", "age", "stale"],
                         daemons, "no daemon heartbeat"))
    account = report["broker_account"]
    console.print(f"broker account: {account['books'] or 'not recorded yet'}" + (
        f"; MISMATCH: the keys lead to {account['mismatch']}, every job refuses"
        if account["mismatch"] else ""))
    for t in account["held_elsewhere"]:
        console.print(f"HELD AT ANOTHER ACCOUNT, not managed: trade #{t['id']} {t['symbol']} "
                      f"{t['status']} at account {t['broker_account_id']}")
    incident = report["incident"]
    if incident:
        names = incident.get("symbols") or {}
        console.print(f"RECONCILIATION INCIDENT since {incident.get('opened_at')}: "
                      f"{incident.get('cause')}; nothing booked for " + ", ".join(
                          f"trade #{t} {names.get(str(t), '')}".strip()
                          for t in incident.get("trades", [])) +
                      " (`trading-monitor reconcile`)")
    leader = report["leader"]
    console.print(f"leader: {leader['host']} pid {leader['pid']}" if leader else
                  "leader: none (no fresh heartbeat with role leader)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trading-monitor status", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


@handles_errors
def main(argv: Sequence[str] | None = None, *, now: Clock = system_clock) -> int:
    args = _parser().parse_args(argv)
    settings = load_settings()
    setup_logging(settings.log_level)
    with TradingDB(config=get_postgres_config(settings=settings), read_only=True,
                   application_name="trading-monitor status") as db:
        report = gather(db, settings, now())
    if args.json:
        print(json.dumps(report, default=jsonable, indent=2))
    else:
        render(report, Console(width=None if sys.stdout.isatty() else 160))
    return EXIT_OK
