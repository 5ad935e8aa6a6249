"""TradingDB: the PostgreSQL adapter the jobs take as an argument.

Identifiers are checked against `db.schema` and quoted with psycopg2.sql; values are always
bound parameters. Rows come back as dicts. A dropped connection is reopened on the next use.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg2
import psycopg2.errors
import psycopg2.extras
from psycopg2 import sql

from trading_monitor.db import migrate
from trading_monitor.db.clock import Clock, on_job_clock
from trading_monitor.db.params import get_postgres_config
from trading_monitor.db.queries import Queries, named_query
from trading_monitor.db.schema import JSON_COLUMNS, READ_ONLY_COLUMNS, check_columns, check_table
from trading_monitor.db.session import connection_defaults, join_options
from trading_monitor.exceptions import DatabaseUnavailable, UnknownSchemaError
from trading_monitor.settings.config import describe_connection

QUERIES = Queries(__name__)  # queries.sql beside this module
log = logging.getLogger(__name__)

Row = dict[str, Any]
_CONNECTION_ERRORS = (psycopg2.OperationalError, psycopg2.InterfaceError)
# Both are OperationalErrors too, so they are caught first.
_TIMEOUTS = (psycopg2.errors.QueryCanceled, psycopg2.errors.LockNotAvailable)
SAVEPOINT_NAMES = frozenset({"decision", "work"})  # identifiers are whitelisted, even these


class DatabaseTimeout(DatabaseUnavailable):
    """A statement ran past the statement timeout or waited on a lock past the lock
    timeout; the work is retried next cycle, as when the database is briefly away."""


class TradingDB:
    # Statements sent to PostgreSQL by every TradingDB of the process (the benchmarks read it).
    round_trips = 0
    _count_lock = threading.Lock()

    def __init__(
        self,
        test_mode: bool = False,
        config: Mapping[str, Any] | None = None,
        application_name: str = "trading-monitor",
        read_only: bool = False,
        clock: Clock | None = None,  # stamps this connection's rows (db/clock.py)
    ):
        self.test_mode, self.read_only, self.clock = test_mode, read_only, clock
        self._config = dict(config) if config is not None else None
        self._application_name = application_name
        self._conn: Any = None
        self._in_transaction = False

    def __repr__(self) -> str:
        where = describe_connection(self._config) if self._config else "unconfigured"
        return f"TradingDB({where}, test_mode={self.test_mode})"

    # -- connection -------------------------------------------------------------------------

    def connect(self) -> TradingDB:
        if self._conn is not None and not self._conn.closed:
            return self
        if self._config is None:
            self._config = get_postgres_config(test_mode=self.test_mode)
        # Keepalives on every connection (a half-open one must not block a job for ever);
        # the statement and lock timeouts come with the settings' config (db/session.py).
        params = {**connection_defaults(), **{k: v for k, v in self._config.items()
                                   if v not in (None, "")}}
        # A read-only session makes "a dry run writes nothing" the server's promise.
        options = join_options("-c timezone=UTC", params.pop("options", None),
                               "-c default_transaction_read_only=on" if self.read_only else None)
        try:
            self._conn = psycopg2.connect(
                **params,
                application_name=self._application_name,
                options=options,
                connect_timeout=10,
                cursor_factory=psycopg2.extras.RealDictCursor,
            )
        except _CONNECTION_ERRORS as exc:
            # libpq messages name host and database, never the password.
            raise DatabaseUnavailable(
                f"cannot connect to PostgreSQL at {describe_connection(self._config)}: "
                f"{str(exc).strip()}"
            ) from None
        # A JSON value Python cannot read (a 5,000-digit number, absurd nesting) comes back as
        # its text instead of failing the whole query: one n8n row must not stop the executor.
        psycopg2.extras.register_default_json(self._conn, loads=_lenient_json)
        psycopg2.extras.register_default_jsonb(self._conn, loads=_lenient_json)
        return self

    def close(self) -> None:
        if self._conn is not None and not self._conn.closed:
            self._conn.close()
        self._conn = None
        self._in_transaction = False

    def __enter__(self) -> TradingDB:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connection(self) -> Any:
        """The live psycopg2 connection (reopened if it was dropped)."""
        if self._conn is None or self._conn.closed:
            if self._in_transaction:
                raise DatabaseUnavailable("connection lost inside a transaction")
            self.connect()
        return self._conn

    def ensure_connected(self) -> None:
        """Probe the connection at the start of a cycle; reopen it if the server dropped it."""
        try:
            self.execute_query(QUERIES["db_layer_ping"])
        except DatabaseUnavailable:
            self.close()
            self.connect()

    # -- transactions -----------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[TradingDB]:
        """Commit on success, roll back on any error; calls inside join the transaction."""
        if self._in_transaction:
            yield self
            return
        conn = self.connection
        self._in_transaction = True
        try:
            yield self
            conn.commit()
        except BaseException:
            if not conn.closed:
                conn.rollback()
            raise
        finally:
            self._in_transaction = False

    @contextmanager
    def savepoint(self, name: str = "work") -> Iterator[TradingDB]:
        """Inside a transaction: an error rolls back only what ran in this block."""
        if not self._in_transaction:
            raise RuntimeError("a savepoint needs an open transaction")
        if name not in SAVEPOINT_NAMES:
            raise UnknownSchemaError(f"unknown savepoint {name!r}")
        self._run(sql.SQL("SAVEPOINT {}").format(sql.Identifier(name)), None, fetch=False)
        try:
            yield self
        except BaseException:
            if self._conn is not None and not self._conn.closed:
                self._run(sql.SQL("ROLLBACK TO SAVEPOINT {}").format(sql.Identifier(name)),
                          None, fetch=False)
            raise
        self._run(sql.SQL("RELEASE SAVEPOINT {}").format(sql.Identifier(name)), None,
                  fetch=False)

    def _run(self, statement: Any, params: Any, fetch: bool) -> Any:
        with TradingDB._count_lock:
            TradingDB.round_trips += 1
        conn = self.connection
        if not self.read_only:
            statement = on_job_clock(statement, self.clock)
        try:
            with conn.cursor() as cur:
                cur.execute(statement, params)
                result = [dict(r) for r in cur.fetchall()] if fetch else cur.rowcount
            if not self._in_transaction:
                conn.commit()
            return result
        except _TIMEOUTS as exc:
            # Cancelled by the server (DB_STATEMENT_TIMEOUT_SECONDS, DB_LOCK_TIMEOUT_SECONDS):
            # the connection is fine, only this statement (and its transaction) failed.
            if not self._in_transaction and not conn.closed:
                conn.rollback()
            raise DatabaseTimeout(f"database statement cancelled: {str(exc).strip()}") from None
        except _CONNECTION_ERRORS as exc:
            self._drop_connection(conn)
            raise DatabaseUnavailable(f"database connection lost: {str(exc).strip()}") from None
        except Exception:
            if not self._in_transaction and not conn.closed:
                conn.rollback()
            raise

    def _drop_connection(self, failed: Any) -> None:
        """Close the connection that failed, not one opened since by another caller."""
        try:
            failed.close()
        finally:
            self._conn = None if self._conn is failed else self._conn

    # -- the seed's API -----------------------------------------------------------------------

    def execute_query(self, query: Any, params: Sequence[Any] | Mapping[str, Any] | None = None
                      ) -> list[Row]:
        return list(self._run(query, params, fetch=True))

    def execute_update(self, query: Any, params: Sequence[Any] | Mapping[str, Any] | None = None
                       ) -> int:
        return int(self._run(query, params, fetch=False))

    def named(self, name: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Run a query from queries.sql that returns rows."""
        return self.execute_query(named_query(name), params or {})

    def named_update(self, name: str, params: Mapping[str, Any] | None = None) -> int:
        return self.execute_update(named_query(name), params or {})

    def insert(self, table: str, data: Mapping[str, Any]) -> int:
        columns = self._writable_columns(table, data)
        statement = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING id").format(
            sql.Identifier(table),
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        )
        rows = self.execute_query(statement, [_adapt(c, data[c]) for c in columns])
        return int(rows[0]["id"])

    def update(self, table: str, row_id: int, data: Mapping[str, Any]) -> bool:
        columns = self._writable_columns(table, data)
        statement = sql.SQL("UPDATE {} SET {} WHERE id = %s").format(
            sql.Identifier(table),
            sql.SQL(", ").join(
                sql.SQL("{} = %s").format(sql.Identifier(c)) for c in columns
            ),
        )
        params = [_adapt(c, data[c]) for c in columns] + [row_id]
        return self.execute_update(statement, params) > 0

    def get_by_id(self, table: str, row_id: int) -> Row | None:
        check_table(table)
        statement = sql.SQL("SELECT * FROM {} WHERE id = %s").format(sql.Identifier(table))
        rows = self.execute_query(statement, [row_id])
        return rows[0] if rows else None

    def query(
        self,
        table: str,
        where: Mapping[str, Any] | None = None,
        order_by: str = "id",
        limit: int | None = None,
    ) -> list[Row]:
        """Rows where every column equals its value (None means IS NULL), ordered by a column."""
        where = where or {}
        check_columns(table, list(where) + [order_by])
        clauses = [
            sql.SQL("{} IS NULL").format(sql.Identifier(c)) if where[c] is None
            else sql.SQL("{} = %s").format(sql.Identifier(c))
            for c in where
        ]
        statement = sql.SQL("SELECT * FROM {}").format(sql.Identifier(table))
        if clauses:
            statement += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(clauses)
        statement += sql.SQL(" ORDER BY {}").format(sql.Identifier(order_by))
        params: list[Any] = [_adapt(c, v) for c, v in where.items() if v is not None]
        if limit is not None:
            statement += sql.SQL(" LIMIT %s")
            params.append(int(limit))
        return self.execute_query(statement, params)

    def _writable_columns(self, table: str, data: Mapping[str, Any]) -> list[str]:
        columns = check_columns(table, data)
        if not columns:
            raise UnknownSchemaError(f"no columns given for {table}")
        bad = [c for c in columns if c in READ_ONLY_COLUMNS]
        if bad:
            raise UnknownSchemaError(f"{', '.join(bad)} kept by the database; not writable")
        return columns

    # -- schema ---------------------------------------------------------------------------------

    def create_schema(self, production: bool = False) -> list[str]:
        """Apply pending migrations; returns the versions applied (empty when up to date)."""
        if self._in_transaction:
            raise RuntimeError("create_schema() runs its own transactions")
        return migrate.apply_migrations(self.connection, production=production)


def _lenient_json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


def _adapt(column: str, value: Any) -> Any:
    if column in JSON_COLUMNS and isinstance(value, (dict, list)):
        return psycopg2.extras.Json(value)
    return value
