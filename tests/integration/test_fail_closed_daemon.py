"""Fail-closed reconciliation through the daemon (issue 27): the real Daemon, its jobs on fast
triggers, against an exchange restarted with an empty book, a paper reset, and positions
answering empty while the orders and the account do not. Nothing is closed, the incident
halts entries (the daemon's executor refuses one) and is alerted, health is CRITICAL; after
`reconcile --accept-gone` (exactly the trades named), or when the positions come back, the
daemon's next reconciliation passes and entries resume, without a restart. Keys of another
account: tests/integration/test_fail_closed_exit.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta

import requests

from tests.cockpit_fixtures import start
from tests.conftest import exchange_env
from tests.helpers import add_decision, entry, use_clock
from tests.integration.test_fail_closed_incident import (
    PRICES,
    _book,
    _halted,
    _statuses,
    cli_env,  # noqa: F401 (a fixture)
)
from trading_monitor.cli import dispatch as cli
from trading_monitor.cli import reconcile as reconcile_cmd
from trading_monitor.cli.health import run_checks
from trading_monitor.daemon.app import Daemon
from trading_monitor.daemon.schedule import NEW_YORK
from trading_monitor.position_monitor.incident import open_incident
from trading_monitor.report.writer import write_report
from trading_monitor.settings.config import load_settings


def _wait(condition, seconds: float) -> None:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > seconds:
            raise AssertionError(f"not within {seconds}s")
        time.sleep(0.1)


def _status(db) -> str:
    rows = db.named("system_value", {"key": "reconciliation_status"})
    return str(rows[0]["value"]) if rows else ""


def test_the_daemon_holds_an_emptied_exchange_as_an_incident(db, jobs, db_params, broker, exchange,
                                                             cli_env, capsys,  # noqa: F811
                                                             caplog):
    settings = load_settings(exchange_env(exchange, RECONCILE_GRACE_SECONDS="60"),
                             need_broker=True)
    ids = _book(db, replace(jobs, settings=settings))
    before = exchange.venue.clock.now()
    exchange.control.reset()
    use_clock(exchange.venue.clock.now)
    exchange.control.set_clock(before + timedelta(minutes=1))
    exchange.control.set_prices(PRICES)
    daemon = Daemon(settings, db_params, broker, now=lambda: exchange.venue.clock.now(),
                    election_seconds=0.2, heartbeat_seconds=0.2, fast_seconds=0.3)
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        _wait(lambda: daemon.state.ran >= 6, 30)
        assert set(_statuses(db, ids).values()) == {"POSITION"}  # within the grace
        exchange.control.advance(61)
        _wait(lambda: open_incident(db) is not None, 30)
        _wait(lambda: _halted(db) == "on", 10)
        ran = daemon.state.ran
        _wait(lambda: daemon.state.ran >= ran + 6, 30)  # the daemon goes on, books nothing
        assert set(_statuses(db, ids).values()) == {"POSITION"}
        assert daemon.state.paused is None
        assert [r for r in caplog.records  # the ALERT the daemon's handler sends
                if r.getMessage().startswith("ALERT reconciliation incident")]
        code = reconcile_cmd.main(["--accept-gone", ",".join(map(str, ids.values())),
                                   "--reason", "the exchange restarted empty"])
        assert code == 0, capsys.readouterr()
        assert set(_statuses(db, ids).values()) == {"CLOSED"}
        exchange.control.advance(61)
        _wait(lambda: _status(db) == "PASS" and not _halted(db), 30)
    finally:
        daemon.stop()
        thread.join(timeout=30)


# -- the other scenarios, through the daemon --------------------------------------------------

@contextmanager
def _daemon(settings, db_params, broker, exchange) -> Iterator[Daemon]:
    daemon = Daemon(settings, db_params, broker, now=lambda: exchange.venue.clock.now(),
                    election_seconds=0.2, heartbeat_seconds=0.2, fast_seconds=0.3)
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        yield daemon
    finally:
        daemon.stop()
        thread.join(timeout=30)


def outcome(db, decision: int):
    rows = db.query("decision_outcome", {"analysis_decision_id": decision})
    return rows[0] if rows else None


def _decided(db, symbol: str = "TSLA") -> int:
    return add_decision(db, entry(symbol, entry_price="251.00", stop_loss="240.00",
                                  take_profit="270.00", quantity=1))


def _held_as_incident(db, db_params, settings, exchange, daemon, ids, caplog) -> None:
    """Within the grace nothing; past it: nothing closed, the halt, the ALERT naming every
    trade, health CRITICAL, and an entry the daemon's executor refuses (nothing sent)."""
    _wait(lambda: daemon.state.ran >= 6, 30)
    assert set(_statuses(db, ids).values()) == {"POSITION"} and not _halted(db)
    exchange.control.advance(61)
    _wait(lambda: open_incident(db) is not None and _halted(db) == "on", 30)
    assert sorted(open_incident(db)["trades"]) == sorted(ids.values())
    d = _decided(db)
    _wait(lambda: outcome(db, d) is not None, 30)
    assert "reconciliation halt" in outcome(db, d)["reason"]
    assert not [o for o in exchange.control.orders() if o["symbol"] == "TSLA"]
    ran = daemon.state.ran
    _wait(lambda: daemon.state.ran >= ran + 6, 30)  # more cycles: still nothing booked
    assert set(_statuses(db, ids).values()) == {"POSITION"} and daemon.state.paused is None
    alerts = [r.getMessage() for r in caplog.records
              if r.getMessage().startswith("ALERT reconciliation incident")]
    assert len(alerts) == 1 and all(f"trade #{j} {s}" in alerts[0] for s, j in ids.items())
    checks = {c.name: c.state for c in run_checks(db_params, settings,
                                                   exchange.venue.clock.now(), broker=False)}
    assert checks["incident"] == "CRITICAL"


def _shown(db, db_params, exchange, ids, capsys, tmp_path) -> None:
    """`status`, `reconcile`, the report and the cockpit's page show the open incident and
    every trade it holds."""
    held = [f"trade #{j} {s}" for s, j in ids.items()]
    capsys.readouterr()
    assert cli.main(["status"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # rich may wrap the line
    assert "RECONCILIATION INCIDENT" in out and all(h in out for h in held), out
    assert reconcile_cmd.main([]) == 0
    assert "reconciliation INCIDENT" in capsys.readouterr().out
    day = exchange.venue.clock.now().astimezone(NEW_YORK).date()
    summary = write_report(db, day, tmp_path).markdown.read_text()
    assert "Reconciliation incident open" in summary
    assert all(f"#{j} {s}" in summary for s, j in ids.items())
    page = start(db_params, exchange)
    try:
        text = requests.get(page.url + "/", timeout=10).text
    finally:
        page.stop()
    banner = text.split("id='incident'>")[1].split("</div>")[0]
    assert all(h in banner for h in held), banner


def test_the_daemon_holds_a_paper_reset_and_accept_gone_closes_exactly_those_named(
        db, jobs, db_params, broker, exchange, cli_env, capsys, caplog, tmp_path):  # noqa: F811
    settings = load_settings(exchange_env(exchange, RECONCILE_GRACE_SECONDS="60"),
                             need_broker=True)
    ids = _book(db, replace(jobs, settings=settings))
    exchange.control._call("POST", "/control/paper_reset")  # same account id, nothing left
    with _daemon(settings, db_params, broker, exchange) as daemon:
        _held_as_incident(db, db_params, settings, exchange, daemon, ids, caplog)
        _shown(db, db_params, exchange, ids, capsys, tmp_path)
        code = reconcile_cmd.main(["--accept-gone", str(ids["MSFT"]), "--reason",
                                   "paper account reset"])
        assert code == 0, capsys.readouterr()
        assert _statuses(db, ids) == {"AAPL": "POSITION", "MSFT": "CLOSED", "NVDA": "POSITION"}
        closed = db.get_by_id("trade_journal", ids["MSFT"])
        assert (closed["exit_reason_code"], closed["exit_estimated"]) == ("EXTERNAL", True)
        assert "paper account reset" in closed["exit_reason"]
        assert sorted(open_incident(db)["trades"]) == sorted([ids["AAPL"], ids["NVDA"]])
        ran = daemon.state.ran
        _wait(lambda: daemon.state.ran >= ran + 6, 30)  # the rest still wait, still halted
        assert _statuses(db, ids)["AAPL"] == "POSITION" and _halted(db) == "on"
        assert reconcile_cmd.main(["--accept-gone", f"{ids['AAPL']},{ids['NVDA']}",
                                   "--reason", "paper account reset"]) == 0
        exchange.control.advance(61)
        _wait(lambda: _status(db) == "PASS" and not _halted(db), 30)
        d = _decided(db)
        _wait(lambda: outcome(db, d) is not None, 30)
        assert outcome(db, d)["terminal_state"] == "EXECUTED"  # entries resume


def test_the_daemon_disbelieves_empty_positions_and_resumes_when_they_come_back(
        db, jobs, db_params, broker, exchange, capsys, caplog):
    settings = load_settings(exchange_env(exchange, RECONCILE_GRACE_SECONDS="60"),
                             need_broker=True)
    ids = _book(db, replace(jobs, settings=settings))
    exchange.control.set_position_lag(10**8)  # GET /v2/positions answers []; orders, account not
    with _daemon(settings, db_params, broker, exchange) as daemon:
        _held_as_incident(db, db_params, settings, exchange, daemon, ids, caplog)
        assert "long_market_value" in open_incident(db)["cause"]
        assert not db.query("reconciliation_issue", {"kind": "GONE_AT_BROKER"})
        exchange.control.set_position_lag(0)  # the positions come back: no operator
        exchange.control.advance(1)
        _wait(lambda: open_incident(db) is None and not _halted(db)
              and _status(db) == "PASS", 30)
        assert set(_statuses(db, ids).values()) == {"POSITION"}
        checks = {c.name: c.state for c in run_checks(db_params, settings,
                                                       exchange.venue.clock.now(), broker=False)}
        assert checks["incident"] == "OK"
        d = _decided(db)
        _wait(lambda: outcome(db, d) is not None, 30)
        assert outcome(db, d)["terminal_state"] == "EXECUTED"  # entries resume
