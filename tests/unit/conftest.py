"""The unit tier: pure rules only, in milliseconds. No PostgreSQL, no exchange, no threads.

The root conftest's fixtures (a PostgreSQL server, a paper exchange) start only when a test
asks for them by name, and nothing here does. The guard below makes that a rule rather than
a habit: a unit test that opens a socket or starts a thread fails at once, naming what it
tried, instead of quietly becoming an integration test; so does one that asks for the
root conftest's database or exchange fixtures.

    uv run pytest tests/unit -q --no-cov
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

# The root conftest's fixtures that start PostgreSQL or a paper exchange.
IMPURE_FIXTURES = frozenset({"pg_server", "template_params", "database_pool", "db_params",
                             "empty_db_params", "db", "exchange", "settings", "broker",
                             "jobs"})


class ImpureUnitTest(AssertionError):
    pass


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before any fixture starts: a unit test may not ask for PostgreSQL or the exchange."""
    wanted = sorted(IMPURE_FIXTURES & set(getattr(item, "fixturenames", ())))
    if wanted:
        raise ImpureUnitTest(f"{item.nodeid} asks for {', '.join(wanted)}: a test with "
                             "PostgreSQL or the exchange belongs in the integration tier")


@pytest.fixture(autouse=True)
def _pure(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Only the test's own thread is refused: a background thread an earlier integration test
    left running (the database pool, a listener winding down) is not this test's doing."""
    test_thread = threading.get_ident()
    connect, connect_ex, start = socket.socket.connect, socket.socket.connect_ex, \
        threading.Thread.start

    def guarded(original: Callable[..., Any], what: str) -> Callable[..., Any]:
        def check(self: Any, *args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() == test_thread:
                raise ImpureUnitTest(f"a unit test {what}: it belongs in the integration "
                                     "tier (tests/), not tests/unit")
            return original(self, *args, **kwargs)
        return check

    monkeypatch.setattr(socket.socket, "connect", guarded(connect, "opened a connection"))
    monkeypatch.setattr(socket.socket, "connect_ex", guarded(connect_ex, "opened a connection"))
    monkeypatch.setattr(threading.Thread, "start", guarded(start, "started a thread"))
    yield
