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
from collections.abc import Iterator

import pytest

# The root conftest's fixtures that start PostgreSQL or a paper exchange.
IMPURE_FIXTURES = frozenset({"pg_server", "template_params", "database_pool", "db_params",
                             "empty_db_params", "db", "exchange", "settings", "broker"})


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
    def no_socket(*args: object, **kwargs: object) -> None:
        raise ImpureUnitTest("a unit test opened a network connection: it belongs in the "
                             "integration tier (tests/), not tests/unit")

    def no_thread(self: threading.Thread) -> None:
        raise ImpureUnitTest(f"a unit test started the thread {self.name!r}: it belongs in "
                             "the integration tier (tests/), not tests/unit")

    monkeypatch.setattr(socket.socket, "connect", no_socket)
    monkeypatch.setattr(socket.socket, "connect_ex", no_socket)
    monkeypatch.setattr(threading.Thread, "start", no_thread)
    yield
