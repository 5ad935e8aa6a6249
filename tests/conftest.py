"""Real PostgreSQL for every test: one server per session, a fresh database per test.

Each test's database is cloned from a migrated template (CREATE DATABASE ... TEMPLATE),
which costs milliseconds instead of a server start or a migration run.
Set TEST_DATABASE_URL to use an existing server (the role needs CREATEDB).
"""

from __future__ import annotations

import itertools
import os
import queue
import socket
import tempfile
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import psycopg2
import pytest
from psycopg2 import sql

from tests.helpers import use_clock
from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.transport import RequestBudget
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.embedded_pg import EmbeddedPostgres
from trading_monitor.paper_exchange import PaperExchange
from trading_monitor.settings.config import Settings, load_settings

# The order stream listener's fixtures (`staged`, `listener`), for the stream tests; `jobs`.
pytest_plugins = ["tests.stream_fixtures", "tests.cockpit_fixtures", "tests.support.jobs"]

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
            cur.execute("SHOW server_version_num")
            # FILE_COPY (PostgreSQL 15+) copies files instead of WAL-logging every block.
            strategy = " STRATEGY FILE_COPY" if int(cur.fetchone()[0]) >= 150000 else ""
            cur.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}" + strategy).format(
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


class DatabasePool:
    """Fresh clones of the template, made ahead by a background thread.

    A clone costs a few hundred milliseconds of file copying; made on the other core while
    the previous test runs, a test only waits for one that is ready.
    """

    def __init__(self, server: dict[str, Any], template: str, ahead: int = 2):
        self.server, self.template = server, template
        self._ready: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=ahead)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._fill, name="db-pool", daemon=True)
        self._thread.start()

    def _fill(self) -> None:
        while not self._stop.is_set():
            params = create_database_from_template(self.server, self.template)
            while not self._stop.is_set():
                try:
                    self._ready.put(params, timeout=0.2)
                    break
                except queue.Full:
                    continue
            else:
                drop_database(self.server, params["dbname"])

    def take(self) -> dict[str, Any]:
        return self._ready.get(timeout=120)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        while not self._ready.empty():
            drop_database(self.server, self._ready.get_nowait()["dbname"])


@pytest.fixture(scope="session")
def database_pool(pg_server: dict[str, Any], template_params: dict[str, Any]
                  ) -> Iterator[DatabasePool]:
    pool = DatabasePool(pg_server, template_params["dbname"])
    yield pool
    pool.close()


@pytest.fixture
def db_params(pg_server: dict[str, Any], database_pool: DatabasePool
              ) -> Iterator[dict[str, Any]]:
    """libpq parameters of a fresh, migrated database that only this test uses."""
    params = database_pool.take()
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


# -- the paper exchange and a broker on it ------------------------------------------------

MARKET_OPEN = datetime(2026, 11, 20, 14, 45, tzinfo=timezone.utc)  # Fri 09:45 New York
TEST_KEYS = {"ALPACA_API_KEY": "PKTESTKEY0000000001", "ALPACA_SECRET_KEY": "test-secret-9f8e7d"}


@pytest.fixture
def exchange() -> Iterator[PaperExchange]:
    """A fresh exchange per test: stepped clock at an open market, no rate limit unless set."""
    with PaperExchange(seed=1, start=MARKET_OPEN, clock_mode="stepped",
                       rate_limit_per_min=None).start() as ex:
        ex.control.set_prices({"AAPL": "180.00", "MSFT": "420.00", "NVDA": "130.00",
                               "TSLA": "250.00", "SPY": "600.00", "AMD": "150.00"})
        use_clock(ex.venue.clock.now)
        try:
            yield ex
        finally:
            use_clock(None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def exchange_env(ex: PaperExchange, **overrides: str) -> dict[str, str]:
    env = {**TEST_KEYS, "ALPACA_BASE_URL": ex.url, "ALPACA_DATA_URL": ex.url,
           "ALPACA_STREAM_URL": ex.stream_url, "BROKER_TIMEOUT_SECONDS": "3",
           "BROKER_REQUESTS_PER_MINUTE": "100000", "BROKER_READ_RETRIES": "2",
           "CLOCK_SOURCE": "broker", "CANCEL_SETTLE_SECONDS": "1",
           # the daemon's daily_report job: never into the home directory of whoever tests
           "REPORT_DIR": os.path.join(tempfile.gettempdir(), f"tm-test-reports-{os.getpid()}"),
           # a daemon's cockpit on a port of its own: two workers' daemons never meet on 8787
           "COCKPIT_PORT": str(free_port())}
    env.update(overrides)
    return env


@pytest.fixture
def settings(exchange: PaperExchange) -> Settings:
    return load_settings(exchange_env(exchange), need_broker=True)


@pytest.fixture
def broker(settings: Settings) -> AlpacaBroker:
    return AlpacaBroker(settings, budget=RequestBudget(100_000))


# -- parallel workers (pytest-xdist: the README's `pytest -n 2 --dist loadgroup`) -------------
#
# Each worker is a process of its own with its own session: its own embedded PostgreSQL
# (a free port, a mkdtemp directory), its own template (named by pid), its own REPORT_DIR
# (pid), tmp_path under pytest's per-worker basetemp, and a fresh exchange on a free port per
# test. What is shared is kept apart here: a fixture wider than a test (module-scoped: the
# model's exchange, the demo's week, the n8n install) keeps its tests on one worker, and
# every daemon's cockpit gets a port of its own (exchange_env) instead of the default 8787.

@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups on each worker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that uses a module- or class-scoped fixture goes to its module's worker
    (`xdist_group`, honoured by `--dist loadgroup`): the fixture is then built once, not
    once on every worker, and a module-wide resource (an install, a process) never runs
    twice side by side."""
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        defs = info.name2fixturedefs.values() if info is not None else []
        if any(d.scope in ("module", "class", "package") for ds in defs for d in ds):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


def pytest_addoption(parser: pytest.Parser) -> None:
    """`--slow`: the model-based lifecycle test (tests/model) runs thousands of examples."""
    parser.addoption("--slow", action="store_true", default=False,
                     help="run the lifecycle model with its long budget (thousands of examples)")
