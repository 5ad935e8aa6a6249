"""The health checks of liveness: the broker reachable, a daemon alive and leading, the jobs'
last runs. Each tells a passing fault from a lasting one:

- a 429 is "rate limited": the broker answered, so it is reachable (WARNING, not CRITICAL);
- a job's single failure on a passing fault (a 429, a timeout, the database away for a
  moment) is a WARNING; it is CRITICAL once it fails again in a row;
- a heartbeat stamped in the future (by another clock) proves no daemon alive.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.transport import RequestBudget
from trading_monitor.cli import book
from trading_monitor.db.connection import Row, TradingDB
from trading_monitor.db.queries import Queries
from trading_monitor.engine.health_base import (
    CRITICAL,
    MISSED_RECENT,
    OK,
    RUNNING_TOO_LONG,
    WARNING,
    Check,
    Context,
    worst,
)
from trading_monitor.exceptions import FatalError, TemporaryError, TradingMonitorError
from trading_monitor.settings.config import Settings

QUERIES = Queries(__name__)  # queries.sql beside this module

# A beat further ahead of the machine's clock than this was stamped by another clock.
FUTURE_TOLERANCE = timedelta(seconds=60)
# Errors a job meets in passing (job_run.error starts with the exception's name).
TRANSIENT = ("TemporaryError", "DatabaseUnavailable", "BrokerContractError")
# A run the calendar guard failed (daemon/jobs.py `guarded`) names the guard, then the error.
CALENDAR_GUARD = "the trading calendar could not be read: "


def _rate_limited(exc: BaseException) -> bool:
    return isinstance(exc, TemporaryError) and "(429)" in str(exc)


def check_broker(settings: Settings) -> Check:
    """One GET /v2/account, no retries: reachable, and the keys accepted."""
    try:
        broker = AlpacaBroker(settings.model_copy(update={"broker_read_retries": 0}),
                              budget=RequestBudget(settings.broker_requests_per_minute))
        account = broker.get_account()
    except FatalError as exc:
        return Check("broker", CRITICAL, " ".join(str(exc).split()))
    except TemporaryError as exc:
        if _rate_limited(exc):  # it answered: reachable, just asking us to slow down
            return Check("broker", WARNING, "broker rate limited (429): it answers, the keys "
                         "were not checked this time", {"rate_limited": True})
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
    """A daemon_heartbeat row fresher than 3 minutes, and a fresh one with role leader. A
    beat stamped ahead of our clock (by another clock: a simulated one) proves nothing."""
    rows = book.heartbeats(db, ctx.now)
    for r in rows:
        r["future"] = r["beat_at"] - ctx.now > FUTURE_TOLERANCE
    detail = {"daemons": [{k: r[k] for k in ("host", "pid", "role", "beat_at", "stale",
                                             "future")} for r in rows]}
    if not rows:
        return Check("heartbeat", CRITICAL, "no daemon heartbeat (is `trading-monitor run` "
                                            "running?)", detail)
    fresh = [r for r in rows if not r["stale"] and not r["future"]]
    if not fresh:
        past = [r for r in rows if not r["future"]]
        if not past:
            ahead = book.ago((rows[-1]["beat_at"] - ctx.now).total_seconds())
            return Check("heartbeat", CRITICAL, f"no daemon proven alive: heartbeat stamped "
                         f"{ahead} in the future (by another clock?)", detail)
        return Check("heartbeat", CRITICAL,
                     f"heartbeat stale (last {book.ago(past[0]['age_seconds'])} ago)", detail)
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


def _failed_in_a_row(db: TradingDB, job: str) -> int:
    """How many of the job's last two finished runs failed, counting from the latest."""
    count = 0
    for row in book.read(db, QUERIES["recent_runs"], {"job": job}):
        if row["status"] != "FAILED":
            break
        count += 1
    return count


def _job_problem(db: TradingDB, run: Row, now: datetime) -> tuple[str, str] | None:
    status, name = run["status"], run["job_name"]
    when = run["finished_at"] or run["started_at"]
    age = book.ago((now - when).total_seconds())
    if status == "FAILED":
        error = " ".join(str(run["error"] or "no error recorded").split())[:160]
        if error.removeprefix(CALENDAR_GUARD).startswith(TRANSIENT) and \
                _failed_in_a_row(db, name) < 2:
            # One passing fault (a 429, a timeout): the next run retries it. Twice in a
            # row is CRITICAL.
            what = "rate limited" if "(429)" in error else "a passing fault"
            return WARNING, f"{name} failed once {age} ago ({what}): {error}"
        return CRITICAL, f"{name} FAILED {age} ago: {error}"
    if status == "PARTIAL":
        return WARNING, f"{name} PARTIAL {age} ago"
    if status == "MISSED" and now - when <= MISSED_RECENT:
        return WARNING, f"{name} missed its run {age} ago"
    if status == "RUNNING" and now - run["started_at"] > RUNNING_TOO_LONG:
        return WARNING, f"{name} RUNNING for {age} (crashed?)"
    return None


def check_jobs(db: TradingDB, ctx: Context) -> Check:
    """The latest job_run row of each job: FAILED is CRITICAL (a passing fault only when the
    run before failed too); PARTIAL, a miss within a day and a run still RUNNING after an
    hour are WARNING."""
    runs = book.last_job_runs(db)
    detail = {"jobs": {r["job_name"]: r["status"] for r in runs}}
    problems = [p for p in (_job_problem(db, r, ctx.now) for r in runs) if p is not None]
    if problems:
        return Check("jobs", worst([s for s, _ in problems]),
                     "; ".join(text for _, text in problems), detail)
    if not runs:
        return Check("jobs", OK, "no job has run yet", detail)
    return Check("jobs", OK, f"last run of {len(runs)} job(s) fine", detail)


