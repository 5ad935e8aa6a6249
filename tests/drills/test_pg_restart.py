"""PostgreSQL restarted in the middle of a cycle: the daemon reconnects and carries on.

The test has a PostgreSQL server of its own (an EmbeddedPostgres, not the session's one),
because it restarts it. The daemon runs as a real process (`python scheduler.py`); a latency
fault holds the executor's order POST at the broker while the server goes down (fast
shutdown: every session is cut, open transactions are lost) and comes back on the same
port. Then the daemon must: finish nothing half-written (the order the broker took is
recorded once, from the intent, and protected), take the leadership again, run a new
decision through a whole cycle, and leave books that the invariant checker passes.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import exchange_env
from tests.drills.support import assert_books_hold
from tests.drills.test_drills_monitors import STAGED, _Daemon
from tests.helpers import add_decision, entry
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.embedded_pg import EmbeddedPostgres
from trading_monitor.exceptions import DatabaseUnavailable
from trading_monitor.settings.config import load_settings

pytestmark = pytest.mark.drills


@pytest.fixture
def own_pg() -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres().start()
    try:
        with TradingDB(config=server.params) as db:
            db.create_schema()
        yield server
    finally:
        server.stop()


def _restart(server: EmbeddedPostgres) -> float:
    """Fast shutdown (SIGINT: sessions cut, transactions rolled back), then start again on
    the same port and data directory; the seconds it was away."""
    began = time.monotonic()
    server._server.terminate(signal.SIGINT)
    server._server.start()
    return time.monotonic() - began


class _Db:
    """The test's own view of the books; it reconnects after the restart like the daemon."""

    def __init__(self, params: dict[str, Any]):
        self.db = TradingDB(config=params)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.db, name)

        def call(*args: Any, **kw: Any) -> Any:
            try:
                return method(*args, **kw)
            except DatabaseUnavailable:
                self.db.close()
                return method(*args, **kw)
        return call


def test_the_daemon_rides_out_a_postgres_restart_mid_cycle(own_pg, exchange, tmp_path):
    params = own_pg.params
    db = _Db(params)
    first = add_decision(db, entry(entry_price="181.00", stop_loss="175.00",
                                   take_profit="195.00"))
    exchange.control.set_fault("POST /v2/orders", "latency", ms=2500, count=1)
    daemon = _Daemon(exchange, params, tmp_path)
    daemon.wait_for(lambda: bool(db.query("order_execution")), 60)  # mid-submit now
    away = _restart(own_pg)  # while the broker holds the POST
    second = add_decision(db, entry("MSFT", entry_price="421.00", stop_loss="410.00",
                                    take_profit="440.00"))

    def done() -> bool:
        journals = db.query("trade_journal")
        return len(journals) == 2 and all(j["protected_at"] is not None for j in journals)

    daemon.wait_for(done, 90)
    leader = db.execute_query("SELECT count(*) AS n FROM daemon_heartbeat WHERE role = 'leader'")
    assert daemon.stop() == 0, daemon.tail()
    log = daemon.tail() + daemon.log.read_text(errors="replace")
    assert leader[0]["n"] == 1
    # The intent written before the restart was resumed from the broker, never sent twice.
    entries = [r for r in db.query("order_execution") if r["order_role"] == "ENTRY"]
    assert len(entries) == 2 and all(r["order_status"] == "filled" for r in entries)
    assert not [r for r in db.query("order_execution") if r["order_status"] == "pending_submit"]
    posts = [o for o in exchange.control.orders() if o["client_order_id"].endswith("-entry")]
    assert len(posts) == 2
    for d in (first, second):
        assert len(db.query("decision_outcome", {"analysis_decision_id": d})) == 1
    # No job left half-recorded: every run has finished (or failed) in job_run.
    stuck = [(r["job_name"], r["run_id"]) for r in db.query("job_run")
             if r["status"] == "RUNNING"]
    assert not stuck, (stuck, log[-6000:])
    assert "database" in log.lower()  # the outage was seen and logged
    settings = load_settings(exchange_env(exchange, **STAGED), need_broker=True)
    counts = assert_books_hold(db.db, params, exchange, settings)
    print(f"\npostgres away {away:.2f}s; books hold {counts}")
