"""Real PostgreSQL for every test: one server per session, a fresh database per test.

Each test's database is cloned from a migrated template (CREATE DATABASE ... TEMPLATE),
which costs milliseconds instead of a server start or a migration run.
Set TEST_DATABASE_URL to use an existing server (the role needs CREATEDB).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest
from psycopg2 import sql

from trading_monitor.db_layer import TradingDB
from trading_monitor.embedded_pg import EmbeddedPostgres

_counter = itertools.count()


def _admin(params: dict[str, Any]) -> Any:
    conn = psycopg2.connect(**{k: v for k, v in params.items() if v not in (None, "")})
    conn.autocommit = True
    return conn


@pytest.fixture(scope="session")
def pg_server() -> Iterator[dict[str, Any]]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        from psycopg2.extensions import parse_dsn

        yield dict(parse_dsn(url))
        return
    server = EmbeddedPostgres().start()
    try:
        yield server.params
    finally:
        server.stop()


@pytest.fixture(scope="session")
def template_params(pg_server: dict[str, Any]) -> Iterator[dict[str, Any]]:
    name = f"tm_template_{os.getpid()}"
    admin = _admin(pg_server)
    with admin.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = {**pg_server, "dbname": name}
    db = TradingDB(config=params).connect()
    db.create_schema()
    db.close()
    try:
        yield params
    finally:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
        admin.close()


def create_database_from_template(server: dict[str, Any], template: str) -> dict[str, Any]:
    name = f"tm_test_{os.getpid()}_{next(_counter)}"
    admin = _admin(server)
    try:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)))
    finally:
        admin.close()
    return {**server, "dbname": name}


def drop_database(server: dict[str, Any], name: str) -> None:
    admin = _admin(server)
    try:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
    finally:
        admin.close()


@pytest.fixture
def db_params(pg_server: dict[str, Any], template_params: dict[str, Any]
              ) -> Iterator[dict[str, Any]]:
    """libpq parameters of a fresh, migrated database that only this test uses."""
    params = create_database_from_template(pg_server, template_params["dbname"])
    try:
        yield params
    finally:
        drop_database(pg_server, params["dbname"])


@pytest.fixture
def empty_db_params(pg_server: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A fresh database with no schema at all (for migration and production-path tests)."""
    params = create_database_from_template(pg_server, "template0")
    try:
        yield params
    finally:
        drop_database(pg_server, params["dbname"])


@pytest.fixture
def db(db_params: dict[str, Any]) -> Iterator[TradingDB]:
    database = TradingDB(config=db_params).connect()
    try:
        yield database
    finally:
        database.close()
