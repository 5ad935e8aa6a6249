"""`trading-monitor psql [--test-mode | DSN] [PSQL ARGS...]`: psql on our database.

Opens the configured database (DATABASE_URL, or POSTGRES_* in .env), the test database
with --test-mode, or the DSN given (say the one `demo --keep-db` printed). psql itself is
taken where the embedded server's binaries are (TRADING_MONITOR_PG_BINDIR: the system's
PostgreSQL, else the pg extra's wheel; `wheel`: the wheel only), never from PATH, so it works
on a machine without PostgreSQL. Every argument after the database goes to psql unchanged:

    trading-monitor psql -c 'SELECT * FROM decision_outcome'
    trading-monitor psql -X -v ON_ERROR_STOP=1 < checks.sql

The password travels in PGPASSWORD, never on the command line. Exit codes: psql's own;
2 for a configuration problem (no database configured, no psql binary).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from trading_monitor.cli.common import EXIT_CONFIG
from trading_monitor.db.embedded_pg import find_pg_bindir
from trading_monitor.db.params import get_postgres_config
from trading_monitor.exceptions import ConfigError, FatalError
from trading_monitor.settings.config import has_test_database, load_settings

USAGE = "usage: trading-monitor psql [--test-mode | DSN] [PSQL ARGS...]"
# libpq's environment variables for each connection parameter we may hold.
_PG_ENV = {"host": "PGHOST", "port": "PGPORT", "dbname": "PGDATABASE", "user": "PGUSER",
           "password": "PGPASSWORD", "sslmode": "PGSSLMODE"}


def psql_binary() -> str:
    path = os.path.join(find_pg_bindir(), "psql")
    if not os.access(path, os.X_OK):
        raise FatalError(f"no psql beside the PostgreSQL server binaries ({path})")
    return path


def _is_dsn(arg: str) -> bool:
    return arg.startswith(("postgresql://", "postgres://")) or "dbname=" in arg


def connection_env(params: Mapping[str, Any]) -> dict[str, str]:
    """libpq's variables for `params`: psql connects with them and no argument."""
    return {_PG_ENV[k]: str(v) for k, v in params.items() if k in _PG_ENV and v not in (None, "")}


def command(argv: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """The psql argv and the environment it runs with."""
    args = list(argv)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if args and _is_dsn(args[0]):
        return [psql_binary(), "--dbname", args[0], *args[1:]], env
    test_mode = bool(args) and args[0] == "--test-mode"
    if test_mode:
        args = args[1:]
    settings = load_settings()
    if test_mode and not has_test_database(settings):
        raise ConfigError(["--test-mode needs a test database (TEST_DATABASE_URL or "
                           "TEST_POSTGRES_HOST); for a throwaway one, run `trading-monitor demo "
                           "--keep-db` and pass the DSN it prints"])
    params = get_postgres_config(test_mode=test_mode, settings=settings)
    return [psql_binary(), *args], env | connection_env(params)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["-h"], ["--help"]):
        print(f"{USAGE}\n\n{__doc__}")
        return 0
    try:
        argv_, env = command(args)
    except (ConfigError, FatalError) as exc:
        print(f"trading-monitor psql: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    sys.stdout.flush()
    os.execve(argv_[0], argv_, env)  # psql takes over: its prompt, its exit code
    return 0  # not reached
