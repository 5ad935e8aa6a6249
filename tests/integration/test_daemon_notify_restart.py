"""The listener survives a PostgreSQL restart: a server of this test's own (the session's
is shared), a fast shutdown (every session cut) and a start on the same port; the daemon
listens again, runs its catch-up, and a decision written after the restart acts without
the poll (DECISION_POLLING=false)."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from tests.helpers import add_decision, entry
from tests.integration.test_daemon_notify import Running, listening, outcome, wait_for
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.embedded_pg import EmbeddedPostgres


@pytest.fixture
def own_pg() -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres().start()
    try:
        with TradingDB(config=server.params) as db:
            db.create_schema()
        yield server
    finally:
        server.stop()


@pytest.fixture
def running() -> Iterator[Running]:
    r = Running()
    try:
        yield r
    finally:
        r.stop_all()


def test_the_listener_comes_back_after_a_postgresql_restart(own_pg, exchange, running):
    daemon = running.start(own_pg.params, exchange)
    wait_for(lambda: listening(daemon))
    first = daemon.notify_listener
    own_pg._server.terminate(signal.SIGINT)  # fast shutdown: the listening session is cut
    own_pg._server.start()
    # Either the same listener reconnected, or a new one after the re-election.
    wait_for(lambda: listening(daemon) and (daemon.notify_listener is not first
                                            or first is not None and first.connections >= 2),
             60)
    with TradingDB(config=own_pg.params) as db:
        decision = add_decision(db, entry())
        found = wait_for(lambda: outcome(db, decision), 30)
    assert found["terminal_state"] == "EXECUTED"
