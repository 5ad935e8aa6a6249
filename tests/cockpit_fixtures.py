"""The cockpit's test set-up: positions held on the paper exchange, and a cockpit serving
them on a loopback port (the daemon's own server, started as the daemon starts it)."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests.conftest import exchange_env
from tests.helpers import JsonEndpoint, add_decision, entry, outcome
from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.transport import RequestBudget
from trading_monitor.settings.config import load_settings
from trading_monitor.web.actions import Actor
from trading_monitor.web.metrics import Process
from trading_monitor.web.server import Cockpit

if TYPE_CHECKING:  # a plugin module: tests/support/jobs.py is imported as a plugin itself
    from tests.support.jobs import Jobs

TOKEN = "cockpit-test-token-5b1f0c9e"
D = Decimal


def hold(db: Any, jobs: Jobs) -> dict[str, int]:
    """Two protected positions: 10 AAPL (entry 181.00, stop 175.00) and 20 MSFT (entry
    421.00, stop 410.00), filled as marketable bracket entries and marked once."""
    found = {}
    for ticker, prices, qty in (("AAPL", ("181.00", "175.00", "195.00"), 10),
                                ("MSFT", ("421.00", "410.00", "440.00"), 20)):
        d = add_decision(db, entry(ticker, entry_price=prices[0], stop_loss=prices[1],
                                   take_profit=prices[2], quantity=qty))
        jobs.executor()
        found[ticker] = d
    jobs.order_monitor()
    jobs.position_monitor()
    trades = {t: int(outcome(db, d)["trade_journal_id"]) for t, d in found.items()}
    for jid in trades.values():
        assert db.get_by_id("trade_journal", jid)["status"] == "POSITION"
    return trades


def beat(db: Any) -> None:
    """A fresh leader heartbeat row, as a running daemon's."""
    db.execute_update("INSERT INTO daemon_heartbeat (host, pid, role, started_at, beat_at) "
                      "VALUES ('box', 4242, 'leader', now(), now())")


def start(db_params: dict[str, Any], exchange: Any, *, token: str | None = TOKEN,
          **env: str) -> Cockpit:
    settings = load_settings({**exchange_env(exchange), **({"COCKPIT_TOKEN": token}
                                                           if token else {}), **env},
                             need_broker=True)
    broker = AlpacaBroker(settings, budget=RequestBudget(100_000))
    actor = Actor(settings, db_params, broker, now=exchange.venue.clock.now)
    cockpit = Cockpit(actor, process=Process(is_leader=lambda: True), port=0)
    assert cockpit.start(), "the cockpit did not start"
    return cockpit


@pytest.fixture
def cockpit(db_params: dict[str, Any], exchange: Any) -> Iterator[Cockpit]:
    served = start(db_params, exchange)
    try:
        yield served
    finally:
        served.stop()


def login(base: str, token: str = TOKEN) -> requests.Session:
    """A browser-like session: the login form's nonce cookie, then the token."""
    http = requests.Session()
    form = http.get(base + "/login", timeout=10)
    nonce = re.search(r"name='csrf' value='([^']+)'", form.text)
    assert nonce, form.text
    done = http.post(base + "/login", data={"csrf": nonce[1], "token": token}, timeout=10,
                     allow_redirects=False)
    assert done.status_code in (303, 403), done.status_code
    return http


def csrf_of(text: str) -> str:
    found = re.search(r"name='csrf' value='([^']+)'", text)
    assert found, text
    return found[1]


def confirmed_of(text: str) -> str:
    found = re.search(r"name='confirmed' value='([^']+)'", text)
    assert found, text
    return found[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, check: Callable[[], Any], seconds: float = 60) -> Any:
    """Poll until check() is truthy (bounded): the state, never a fixed sleep."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            found = check()
        except requests.RequestException:
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds}s: {what}")
        time.sleep(0.2)


@pytest.fixture
def endpoint() -> Iterator[JsonEndpoint]:
    """A local json:// endpoint that apprise delivers alerts and reports to (a test module
    may define its own `endpoint` instead)."""
    target = JsonEndpoint()
    try:
        yield target
    finally:
        target.close()
