"""`trading-monitor psql`: the wheel's (or the system's) psql on our database, never PATH's."""

from __future__ import annotations

import os
import subprocess
import sys

from trading_monitor.cli import psql
from trading_monitor.db.embedded_pg import BINDIR_ENV, wheel_pg_bindir


def _env(db_params, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PG", "POSTGRES_", "DATABASE_", "TEST_"))}
    url = (f"postgresql://{db_params['user']}@{db_params['host']}:{db_params['port']}/"
           f"{db_params['dbname']}")
    return env | {"DATABASE_URL": url, "PATH": "/nonexistent"} | extra


def _psql(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trading_monitor.cli", "psql", *args],
                          env=env, capture_output=True, text=True, timeout=60, check=False)


def test_it_opens_the_configured_database_without_psql_on_path(db, db_params, tmp_path):
    db.insert("system_state", {"key": "psql_probe", "value": "seen", "reason": "test"})
    done = _psql(_env(db_params), "-X", "-A", "-t", "-c",
                 "SELECT value FROM system_state WHERE key = 'psql_probe'")
    assert (done.returncode, done.stdout.strip()) == (0, "seen"), done.stderr


def test_a_dsn_opens_that_database_and_errors_keep_psqls_exit_code(db_params):
    env = _env(db_params, DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    dsn = (f"postgresql://{db_params['user']}@{db_params['host']}:{db_params['port']}/"
           f"{db_params['dbname']}")
    ok = _psql(env, dsn, "-X", "-A", "-t", "-c", "SELECT 40 + 2")
    assert (ok.returncode, ok.stdout.strip()) == (0, "42"), ok.stderr
    failed = _psql(env, dsn, "-X", "-v", "ON_ERROR_STOP=1", "-c", "SELECT nonsense")
    assert failed.returncode == 1 and "nonsense" in failed.stderr


def test_the_wheel_mode_takes_psql_from_the_wheel(monkeypatch):
    monkeypatch.setenv(BINDIR_ENV, "wheel")
    wheel = wheel_pg_bindir()
    assert wheel is not None and psql.psql_binary() == os.path.join(wheel, "psql")


def test_the_password_goes_in_the_environment_never_on_the_command_line(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://trader:s3cr3t-pw@db.example:5433/books")
    argv, env = psql.command(["-c", "SELECT 1"])
    assert not any("s3cr3t-pw" in a for a in argv)
    assert (env["PGPASSWORD"], env["PGHOST"], env["PGPORT"], env["PGDATABASE"]) == (
        "s3cr3t-pw", "db.example", "5433", "books")


def test_test_mode_without_a_test_database_says_what_to_do(db_params, tmp_path):
    done = subprocess.run([sys.executable, "-m", "trading_monitor.cli", "psql", "--test-mode"],
                          env=_env(db_params), cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2 and "TEST_DATABASE_URL" in done.stderr
    assert "demo --keep-db" in done.stderr
