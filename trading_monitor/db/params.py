"""libpq connection parameters from the settings: here, in db/, because it parses a URL with
libpq's own parser (psycopg2), and only db/ imports psycopg2."""

from __future__ import annotations

from typing import Any

from psycopg2.extensions import parse_dsn

from trading_monitor.db.session import session_params
from trading_monitor.settings.config import Settings, load_settings


def get_postgres_config(
    test_mode: bool = False, settings: Settings | None = None
) -> dict[str, Any]:
    """libpq connection parameters (host, port, dbname, user, password) for production or
    tests, with the session's timeouts and TCP keepalives (db/session.py)."""
    s = settings if settings is not None else load_settings()
    url = s.test_database_url if test_mode else s.database_url
    if url is not None and url.get_secret_value():
        params: dict[str, Any] = dict(parse_dsn(url.get_secret_value()))
    elif test_mode:
        params = {"host": s.test_postgres_host or s.postgres_host, "port": s.test_postgres_port,
                  "dbname": s.test_postgres_db, "user": s.test_postgres_user,
                  "password": s.test_postgres_password.get_secret_value()}
    else:
        params = {"host": s.postgres_host, "port": s.postgres_port, "dbname": s.postgres_db,
                  "user": s.postgres_user, "password": s.postgres_password.get_secret_value()}
    return session_params(params, s.db_statement_timeout_seconds, s.db_lock_timeout_seconds)
