"""The health checks, one function each: what it reads and what counts as a problem.

Each returns a `Check` with a Nagios state (OK, WARNING, CRITICAL, UNKNOWN) and a short
message for the summary line; ages are measured against the clock in `Context`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from psycopg2 import errors as pg_errors

from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.contract import CONTRACT_KEY
from trading_monitor.broker.transport import RequestBudget
from trading_monitor.commands import book
from trading_monitor.config import Settings
from trading_monitor.db.migrate import load_migrations
from trading_monitor.db_layer import Row, TradingDB
from trading_monitor.exceptions import FatalError, TemporaryError, TradingMonitorError
from trading_monitor.halts import halt_states

OK, WARNING, CRITICAL, UNKNOWN = "OK", "WARNING", "CRITICAL", "UNKNOWN"
EXIT_CODES = {OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3}
# The combined state is the worst one, in this order (CRITICAL beats everything).
SEVERITY = {OK: 0, UNKNOWN: 1, WARNING: 2, CRITICAL: 3}
PENDING_SUBMIT_LIMIT = timedelta(minutes=5)
RUNNING_TOO_LONG = timedelta(hours=1)
# A miss is news for a day; some jobs (eod_flatten, the evening runs) log their real runs
# under another job's name, so their last row can be an old miss.
MISSED_RECENT = timedelta(hours=24)


@dataclass(frozen=True)
class Check:
    name: str
    state: str
    message: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Context:
    now: datetime
    settings: Settings


def worst(states: list[str]) -> str:
    return max(states, key=SEVERITY.__getitem__, default=OK)


def check_schema(db: TradingDB, ctx: Context) -> Check:
    """schema_migrations against the code's migrations; `.dev` ones are optional (production
    skips them, see db/migrate.py)."""
    try:
        rows = db.execute_query("SELECT version FROM schema_migrations")
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


def check_broker(settings: Settings) -> Check:
    """One GET /v2/account, no retries: reachable, and the keys accepted."""
    try:
        broker = AlpacaBroker(settings.model_copy(update={"broker_read_retries": 0}),
                              budget=RequestBudget(settings.broker_requests_per_minute))
        account = broker.get_account()
    except FatalError as exc:
        return Check("broker", CRITICAL, " ".join(str(exc).split()))
    except TemporaryError as exc:
        return Check("broker", CRITICAL, f"broker unreachable: {exc}")
    except TradingMonitorError as exc:
        return Check("broker", CRITICAL, f"broker error: {exc}")
    detail = {"account_status": account.status, "paper": settings.alpaca_paper,
              "account_id": account.account_id}
    if account.account_blocked or account.trading_blocked:
        return Check("broker", CRITICAL, "broker account is blocked from trading", detail)
    return Check("broker", OK, f"broker reachable, keys valid (account {account.status}, "
                               f"{'paper' if settings.alpaca_paper else 'LIVE'})", detail)


def check_heartbeat(db: TradingDB, ctx: Context) -> Check:
    """A daemon_heartbeat row fresher than 3 minutes, and a fresh one with role leader."""
    rows = book.heartbeats(db, ctx.now)
    detail = {"daemons": [{k: r[k] for k in ("host", "pid", "role", "beat_at", "stale")}
                          for r in rows]}
    if not rows:
        return Check("heartbeat", CRITICAL, "no daemon heartbeat (is `trading-monitor run` "
                                            "running?)", detail)
    fresh = [r for r in rows if not r["stale"]]
    if not fresh:
        return Check("heartbeat", CRITICAL,
                     f"heartbeat stale (last {book.ago(rows[0]['age_seconds'])} ago)", detail)
    leader = next((r for r in fresh if r["role"] == "leader"), None)
    if leader is None:
        return Check("heartbeat", CRITICAL, f"no leader ({len(fresh)} daemon(s) beating, "
                                            "none of them leader)", detail)
    where = f"{leader['host']} pid {leader['pid']}"
    if leader["trading_paused"]:
        return Check("heartbeat", CRITICAL, f"trading paused on the leader {where}: "
                                            f"{leader['trading_paused']}", detail)
    listener = leader.get("notify_listener")
    if listener in ("down", "unsupported"):
        # Decisions still go out, at the executor's next scheduled fire: slower, not lost.
        return Check("heartbeat", WARNING, f"leader {where}: its LISTEN connection is "
                     f"{listener}; decisions wait for the schedule's poll", detail)
    return Check("heartbeat", OK, f"leader {where}, last beat "
                                  f"{book.ago(leader['age_seconds'])} ago", detail)


def _job_problem(run: Row, now: datetime) -> tuple[str, str] | None:
    status, name = run["status"], run["job_name"]
    when = run["finished_at"] or run["started_at"]
    age = book.ago((now - when).total_seconds())
    if status == "FAILED":
        error = " ".join(str(run["error"] or "no error recorded").split())[:160]
        return CRITICAL, f"{name} FAILED {age} ago: {error}"
    if status == "PARTIAL":
        return WARNING, f"{name} PARTIAL {age} ago"
    if status == "MISSED" and now - when <= MISSED_RECENT:
        return WARNING, f"{name} missed its run {age} ago"
    if status == "RUNNING" and now - run["started_at"] > RUNNING_TOO_LONG:
        return WARNING, f"{name} RUNNING for {age} (crashed?)"
    return None


def check_jobs(db: TradingDB, ctx: Context) -> Check:
    """The latest job_run row of each job: FAILED is CRITICAL; PARTIAL, a miss within a day
    and a run still RUNNING after an hour are WARNING."""
    runs = book.last_job_runs(db)
    detail = {"jobs": {r["job_name"]: r["status"] for r in runs}}
    problems = [p for p in (_job_problem(r, ctx.now) for r in runs) if p is not None]
    if problems:
        return Check("jobs", worst([s for s, _ in problems]),
                     "; ".join(text for _, text in problems), detail)
    if not runs:
        return Check("jobs", OK, "no job has run yet", detail)
    return Check("jobs", OK, f"last run of {len(runs)} job(s) fine", detail)


def check_intents(db: TradingDB, ctx: Context) -> Check:
    """Order intents written but not sent (pending_submit) for more than 5 minutes."""
    rows = book.read(db, "SELECT id, client_order_id, created_at FROM order_execution "
                         "WHERE order_status = 'pending_submit' AND created_at < %(before)s "
                         "ORDER BY id", {"before": ctx.now - PENDING_SUBMIT_LIMIT})
    detail = {"unsent": [r["client_order_id"] for r in rows]}
    if not rows:
        return Check("intents", OK, "no intent waiting to be sent", detail)
    oldest = book.ago((ctx.now - rows[0]["created_at"]).total_seconds())
    names = ", ".join(r["client_order_id"] for r in rows[:3]) + (" …" if len(rows) > 3 else "")
    return Check("intents", CRITICAL, f"{len(rows)} intent{'s' if len(rows) > 1 else ''} "
                                      f"pending_submit for over 5 min (oldest {oldest}: "
                                      f"{names})", detail)


def check_protection(db: TradingDB, ctx: Context) -> Check:
    """Every open position has live STOP_LOSS orders of ours covering its quantity."""
    positions = [t for t in book.open_trades(db) if t["status"] == "POSITION"
                 and abs(t["qty"] or 0) > 0]
    naked = [t for t in positions if t["stop_qty"] < abs(t["qty"])]
    detail = {"positions": len(positions), "unprotected": [
        {"trade": t["id"], "symbol": t["symbol"], "qty": t["qty"], "stop_qty": t["stop_qty"]}
        for t in naked]}
    if not positions:
        return Check("protection", OK, "no open position", detail)
    if not naked:
        return Check("protection", OK, f"{len(positions)} position(s), all protected", detail)
    names = ", ".join(f"trade #{t['id']} {t['symbol']}" + (
        f": stop covers {t['stop_qty']} of {abs(t['qty'])}" if t["stop_qty"] else "")
        for t in naked)
    plural = "s" if len(naked) > 1 else ""
    return Check("protection", CRITICAL, f"{len(naked)} unprotected position{plural} ({names})",
                 detail)


def check_reconciliation(db: TradingDB, ctx: Context) -> Check:
    """system_state reconciliation_status (the position monitor's): FAIL is CRITICAL."""
    rows = db.named("system_value", {"key": "reconciliation_status"})
    status = str(rows[0]["value"]) if rows and rows[0]["value"] else None
    if status != "FAIL":
        return Check("reconciliation", OK, f"reconciliation {status or 'not run yet'}",
                     {"status": status})
    issues = book.read(db, "SELECT kind, symbol FROM reconciliation_issue "
                           "WHERE resolved_at IS NULL ORDER BY id")
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
    check_reconciliation, check_broker_contract, check_halts)


def _short(text: object, limit: int = 80) -> str:
    words = " ".join(str(text or "no reason given").split())
    return words if len(words) <= limit else words[:limit - 1] + "…"
