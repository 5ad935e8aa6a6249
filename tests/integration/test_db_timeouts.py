"""R13: every job connection has a statement timeout, a lock timeout and TCP keepalives, so a
job waiting on a lock or a slow statement fails (and is retried next cycle) instead of
blocking the daemon for ever."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.conftest import exchange_env
from tests.support.jobs import Jobs
from trading_monitor.db.connection import DatabaseTimeout, TradingDB
from trading_monitor.db.params import get_postgres_config
from trading_monitor.settings.config import load_settings


def _url(p: dict[str, Any]) -> str:
    auth = p["user"] + (f":{p['password']}" if p.get("password") else "")
    return f"postgresql://{auth}@{p['host']}:{p['port']}/{p['dbname']}"


def _config(db_params: dict[str, Any], **env: str) -> dict[str, Any]:
    return get_postgres_config(settings=load_settings({"DATABASE_URL": _url(db_params), **env}))


def test_the_settings_reach_every_connection(db_params):
    with TradingDB(config=_config(db_params)) as db:
        [row] = db.execute_query("SELECT current_setting('statement_timeout') AS s, "
                                 "current_setting('lock_timeout') AS l, "
                                 "current_setting('TimeZone') AS tz")
        dsn = db.connection.get_dsn_parameters()
    assert (row["s"], row["l"], row["tz"]) == ("30s", "10s", "UTC")  # the defaults
    assert (dsn["keepalives"], dsn["keepalives_idle"], dsn["keepalives_count"]) == (
        "1", "30", "3")
    with TradingDB(config=_config(db_params, DB_STATEMENT_TIMEOUT_SECONDS="0",
                                  DB_LOCK_TIMEOUT_SECONDS="2.5"), read_only=True) as db:
        [row] = db.execute_query("SELECT current_setting('statement_timeout') AS s, "
                                 "current_setting('lock_timeout') AS l, "
                                 "current_setting('default_transaction_read_only') AS ro")
    assert (row["s"], row["l"], row["ro"]) == ("0", "2500ms", "on")  # 0 is off


def test_a_slow_statement_is_cancelled_and_the_connection_kept(db_params):
    with TradingDB(config=_config(db_params, DB_STATEMENT_TIMEOUT_SECONDS="0.3")) as db:
        started = time.monotonic()
        with pytest.raises(DatabaseTimeout, match="statement timeout"):
            db.execute_query("SELECT pg_sleep(5) AS slept")
        assert time.monotonic() - started < 3
        assert db.execute_query("SELECT 1 AS ok") == [{"ok": 1}]


def test_a_job_waiting_on_a_lock_fails_instead_of_hanging(db, db_params, broker, exchange):
    """The defect: no lock_timeout, so a position-monitor cycle blocked on a lock another
    session holds waited for as long as the lock was held (the job, and the locks it holds,
    hung with it)."""
    settings = load_settings(exchange_env(exchange, DB_LOCK_TIMEOUT_SECONDS="1"),
                             need_broker=True)
    config = _config(db_params, DB_LOCK_TIMEOUT_SECONDS="1")
    holder = TradingDB(config=db_params).connect()
    holder.connection.cursor().execute("LOCK TABLE system_state IN ACCESS EXCLUSIVE MODE")
    outcome: list[BaseException | None] = []

    def cycle() -> None:
        try:
            Jobs(config, broker, settings, exchange).position_monitor()
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    job = threading.Thread(target=cycle, daemon=True)
    started = time.monotonic()
    job.start()
    job.join(timeout=20)
    hung = job.is_alive()
    holder.connection.rollback()  # release the lock either way
    holder.close()
    job.join(timeout=20)
    assert not hung, "the job still waited on the lock after 20 s"
    assert time.monotonic() - started < 20
    assert isinstance(outcome[0], DatabaseTimeout)
    [run] = db.query("job_run", {"job_name": "position_monitor"})
    assert run["status"] == "FAILED" and "lock timeout" in run["error"]
