"""The health checks, one function each: what it reads and what counts as a problem.

Each returns a `Check` with a Nagios state (OK, WARNING, CRITICAL, UNKNOWN) and a short
message for the summary line; ages are measured against the clock in `Context`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from trading_monitor.broker.contract import CONTRACT_KEY
from trading_monitor.cli import book
from trading_monitor.cli.health_broker import BrokerTruth, our_stop_ids, read_truth
from trading_monitor.cli.health_liveness import (
    check_broker,
    check_heartbeat,
    check_jobs,
)
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.migrate import load_migrations
from trading_monitor.db.pg import errors as pg_errors
from trading_monitor.db.queries import Queries
from trading_monitor.engine.account_guard import trades_held_elsewhere
from trading_monitor.engine.halts import halt_states
from trading_monitor.engine.health_base import (
    CRITICAL,
    EXIT_CODES,
    OK,
    PENDING_SUBMIT_LIMIT,
    SEVERITY,
    UNKNOWN,
    WARNING,
    Check,
    Context,
    worst,
)
from trading_monitor.engine.symbol_halts import check_symbol_halts

QUERIES = Queries(__name__)  # queries.sql beside this module

__all__ = ["CRITICAL", "EXIT_CODES", "OK", "SEVERITY", "UNKNOWN", "WARNING", "Check",
           "Context", "check_broker", "check_heartbeat", "check_jobs", "worst"]

def check_schema(db: TradingDB, ctx: Context) -> Check:
    """schema_migrations against the code's migrations; `.dev` ones are optional (production
    skips them, see db/migrate.py)."""
    try:
        rows = db.execute_query(QUERIES["schema_versions"])
    except pg_errors.UndefinedTable:
        return Check("schema", CRITICAL, "schema missing (no schema_migrations table); run "
                                         "`trading-monitor migrate`")
    applied = {str(r["version"]) for r in rows}
    known = load_migrations()
    missing = [m.version for m in known if not m.dev_only and m.version not in applied]
    unknown = sorted(applied - {m.version for m in known})
    detail = {"applied": sorted(applied), "missing": missing, "unknown": unknown}
    if missing:
        return Check("schema", CRITICAL, f"schema behind: migration {', '.join(missing)} not "
                                         "applied (run `trading-monitor migrate`)", detail)
    if unknown:
        return Check("schema", WARNING, f"database has migration {', '.join(unknown)} this "
                                        "code does not know (older code?)", detail)
    return Check("schema", OK, f"schema current ({len(applied)} migrations)", detail)


def check_intents(db: TradingDB, ctx: Context) -> Check:
    """Order intents written but not sent (pending_submit) for more than 5 minutes."""
    rows = book.read(db, QUERIES["pending_submit_intents"],
                     {"before": ctx.now - PENDING_SUBMIT_LIMIT})
    detail = {"unsent": [r["client_order_id"] for r in rows]}
    if not rows:
        return Check("intents", OK, "no intent waiting to be sent", detail)
    oldest = book.ago((ctx.now - rows[0]["created_at"]).total_seconds())
    names = ", ".join(r["client_order_id"] for r in rows[:3]) + (" …" if len(rows) > 3 else "")
    return Check("intents", CRITICAL, f"{len(rows)} intent{'s' if len(rows) > 1 else ''} "
                                      f"pending_submit for over 5 min (oldest {oldest}: "
                                      f"{names})", detail)


def check_protection(db: TradingDB, ctx: Context) -> Check:
    """Every open position has live STOP_LOSS orders of ours covering its quantity: in the
    books, and (unless --no-broker) at the broker too. A position the broker no longer
    holds (closed there by hand) is a close not booked yet, not an unprotected position. A
    trade held at another account than the books' is the account check's (a WARNING)."""
    elsewhere = {int(t["id"]) for t in trades_held_elsewhere(db)}
    positions = [t for t in book.open_trades(db) if t["status"] == "POSITION"
                 and abs(t["qty"] or 0) > 0 and int(t["id"]) not in elsewhere]
    if not positions:
        return Check("protection", OK, "no open position", {"positions": 0, "unprotected": []})
    truth = read_truth(ctx.settings) if ctx.broker else "not read (--no-broker)"
    naked, closed = [], []
    if isinstance(truth, BrokerTruth):
        ids = our_stop_ids(db, [int(t["id"]) for t in positions])
        for t in positions:
            held = truth.holds(t["symbol"], t["side"])
            if held <= 0:
                closed.append(t)
                continue
            live = truth.stop_qty(ids[int(t["id"])])
            if live < min(abs(t["qty"]), held):
                naked.append({**t, "stop_qty": live, "where": "at the broker"})
    else:
        naked = [t for t in positions if t["stop_qty"] < abs(t["qty"])]
    detail = {"positions": len(positions), "broker": "read" if isinstance(
        truth, BrokerTruth) else truth, "closed_at_broker": [t["id"] for t in closed],
        "unprotected": [{"trade": t["id"], "symbol": t["symbol"], "qty": t["qty"],
                         "stop_qty": t["stop_qty"]} for t in naked]}
    gone = ", ".join(f"trade #{t['id']} {t['symbol']}" for t in closed)
    gone_text = (f"{len(closed)} position(s) closed at the broker, not booked yet ({gone}; "
                 "the next monitor cycle books it)") if closed else ""
    if naked:
        names = ", ".join(f"trade #{t['id']} {t['symbol']}" + (
            f": stop covers {t['stop_qty']} of {abs(t['qty'])}" if t["stop_qty"] else (
                ": no live stop at the broker" if t.get("where") else "")) for t in naked)
        plural = "s" if len(naked) > 1 else ""
        return Check("protection", CRITICAL, f"{len(naked)} unprotected position{plural} "
                     f"({names})" + (f"; {gone_text}" if gone_text else ""), detail)
    if closed:
        return Check("protection", WARNING, gone_text, detail)
    where = "at the broker" if isinstance(truth, BrokerTruth) else "in the books"
    return Check("protection", OK, f"{len(positions)} position(s), all protected {where}",
                 detail)


def check_reconciliation(db: TradingDB, ctx: Context) -> Check:
    """system_state reconciliation_status (the position monitor's): FAIL is CRITICAL."""
    rows = db.named("system_value", {"key": "reconciliation_status"})
    status = str(rows[0]["value"]) if rows and rows[0]["value"] else None
    if status != "FAIL":
        return Check("reconciliation", OK, f"reconciliation {status or 'not run yet'}",
                     {"status": status})
    issues = book.read(db, QUERIES["open_issues"])
    kinds = ", ".join(f"{i['kind']} {i['symbol'] or ''}".strip() for i in issues[:5])
    return Check("reconciliation", CRITICAL, "reconciliation FAIL" + (
        f" ({kinds})" if kinds else ""), {"status": status, "open_issues": len(issues)})


def check_halts(db: TradingDB, ctx: Context) -> Check:
    """Any halt in force (kill switch, TRADING_HALTED, loss, drawdown, reconciliation)."""
    states = halt_states(db, book.trading_day(ctx.now), ctx.settings.trading_halted)
    active = [s for s in states if s["active"]]
    detail = {"active": [s["key"] for s in active]}
    if not active:
        return Check("halts", OK, "no halt", detail)
    return Check("halts", WARNING, "entries halted: " + ", ".join(
        f"{s['key']} ({_short(s['reason'])})" for s in active), detail)


def check_broker_contract(db: TradingDB, ctx: Context) -> Check:
    """system_state broker_contract_error: a broker answer lacked a field we need. The key
    is deleted by the first later read of that endpoint that succeeds, so while it is there
    it is newer than that endpoint's last good read: CRITICAL, naming endpoint and field."""
    rows = db.named("system_value", {"key": CONTRACT_KEY})
    if not rows or not rows[0]["value"]:
        return Check("broker_contract", OK, "broker answers carry every field we need")
    found = _contract_value(rows[0]["value"])
    endpoint, field_name = found.get("endpoint") or "?", found.get("field") or "?"
    since = _parse_time(found.get("at"))
    age = f", {book.ago((ctx.now - since).total_seconds())} ago" if since else ""
    return Check("broker_contract", CRITICAL,
                 f"broker contract broken: {endpoint} lacks field '{field_name}'{age} "
                 f"({_short(found.get('message') or rows[0]['reason'])})",
                 {"endpoint": endpoint, "field": field_name, "at": found.get("at")})


def _contract_value(value: object) -> dict[str, Any]:
    """The key's value: a JSON object (jsonb or text), or plain text as its message."""
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(str(value))
    except ValueError:
        parsed = None
    return parsed if isinstance(parsed, dict) else {"message": str(value)}


def _parse_time(text: object) -> datetime | None:
    try:
        at = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return at if at.tzinfo is not None else None  # a naive time cannot be aged safely


# After the database and schema checks (and the broker's), in this order.
DB_CHECKS: tuple[Callable[[TradingDB, Context], Check], ...] = (
    check_heartbeat, check_jobs, check_intents, check_protection,
    check_reconciliation, check_broker_contract, check_halts, check_symbol_halts)


def _short(text: object, limit: int = 80) -> str:
    words = " ".join(str(text or "no reason given").split())
    return words if len(words) <= limit else words[:limit - 1] + "…"
