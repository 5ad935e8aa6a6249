"""Fail-closed reconciliation (issue 27) on the paper exchange: a broker that suddenly shows
nothing is an incident, not several closed trades.

Each case: three protected positions (AAPL, MSFT, NVDA, bracket entries), then the broker's
picture breaks (the exchange restarted with an empty book, a paper reset, positions answering
empty while the orders and the account do not). No trade is closed, entries halt, the ALERT
fires, `health` is CRITICAL; the positions coming back resume everything without an operator,
and `reconcile --accept-gone` closes exactly the trades named.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from decimal import Decimal

import pytest

from tests.conftest import exchange_env
from tests.helpers import add_decision, entry, outcome
from tests.support.jobs import Jobs, marketable
from trading_monitor.cli import reconcile as reconcile_cmd
from trading_monitor.cli.health import run_checks
from trading_monitor.exceptions import TemporaryError
from trading_monitor.position_monitor.incident import is_mass, open_incident
from trading_monitor.settings.config import load_settings

D = Decimal
BOOK = {"AAPL": ("181.00", "175.00", "195.00"), "MSFT": ("421.00", "410.00", "440.00"),
        "NVDA": ("131.00", "125.00", "140.00")}
PRICES = {"AAPL": "180.00", "MSFT": "420.00", "NVDA": "130.00", "TSLA": "250.00"}


@pytest.fixture
def settings(exchange):
    return load_settings(exchange_env(exchange, RECONCILE_GRACE_SECONDS="60"), need_broker=True)


@pytest.fixture
def cli_env(monkeypatch, tmp_path, db_params, exchange):
    for key in list(os.environ):
        if key.startswith(("ALPACA_", "POSTGRES_", "DATABASE_", "TRADING_HALTED", "MAX_")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no stray .env
    for key, value in exchange_env(exchange).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DATABASE_URL", f"postgresql://{db_params['user']}@{db_params['host']}:"
                                       f"{db_params['port']}/{db_params['dbname']}")
    return monkeypatch


def _book(db, jobs: Jobs) -> dict[str, int]:
    return jobs.book(db, *(marketable(symbol, entry_price=price, stop_loss=stop,
                                      take_profit=target)
                           for symbol, (price, stop, target) in BOOK.items()))


def _statuses(db, ids) -> dict[str, str]:
    return {s: db.get_by_id("trade_journal", j)["status"] for s, j in ids.items()}


def _halted(db) -> str:
    rows = db.named("system_value", {"key": "halt_reconciliation"})
    return str(rows[0]["value"] or "") if rows else ""


def _entry_refused(db, jobs) -> str:
    d = add_decision(db, entry("TSLA", entry_price="251.00", stop_loss="240.00",
                               take_profit="270.00", quantity=1))
    jobs.executor()
    return str(outcome(db, d)["reason"])


def _health(jobs: Jobs, now) -> dict[str, tuple[str, str]]:
    return {c.name: (c.state, c.message)
            for c in run_checks(jobs.db_params, jobs.settings, now, broker=False)}


def _incident_raised(db, jobs, exchange, ids, caplog) -> None:
    """Within the grace nothing happens; past it, the incident: nothing closed, halt, ALERT,
    health CRITICAL, entries refused."""
    first = jobs.position_monitor()
    assert set(_statuses(db, ids).values()) == {"POSITION"} and not _halted(db)
    assert first.failing == []
    exchange.control.advance(61)
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        report = jobs.position_monitor()
    jobs.order_monitor()
    assert report.status == "FAIL"
    assert set(_statuses(db, ids).values()) == {"POSITION"}  # nothing booked
    incident = open_incident(db)
    assert incident is not None and sorted(incident["trades"]) == sorted(ids.values())
    alerts = [r.getMessage() for r in caplog.records
              if r.getMessage().startswith("ALERT reconciliation incident")]
    assert len(alerts) == 1 and all(f"trade #{j} {s}" in alerts[0] for s, j in ids.items())
    assert _halted(db) == "on"
    checks = _health(jobs, exchange.venue.clock.now())
    assert checks["incident"][0] == "CRITICAL" and checks["reconciliation"][0] == "CRITICAL"
    assert "reconciliation halt" in _entry_refused(db, jobs)
    # A second cycle neither books nor alerts again.
    exchange.control.advance(61)
    assert jobs.position_monitor().status == "FAIL"
    assert set(_statuses(db, ids).values()) == {"POSITION"}


def _accept(capsys, ids: list[int], reason: str = "the exchange lost its book") -> int:
    code = reconcile_cmd.main(["--accept-gone", ",".join(map(str, ids)), "--reason", reason])
    capsys.readouterr()
    return code


def _accepted_then_resumed(db, jobs, exchange, ids, capsys) -> None:
    aapl, msft, nvda = ids["AAPL"], ids["MSFT"], ids["NVDA"]
    assert _accept(capsys, [aapl, msft]) == 0
    assert _statuses(db, ids) == {"AAPL": "CLOSED", "MSFT": "CLOSED", "NVDA": "POSITION"}
    closed = db.get_by_id("trade_journal", aapl)
    assert (closed["exit_reason_code"], closed["exit_estimated"]) == ("EXTERNAL", True)
    assert "the exchange lost its book" in closed["exit_reason"]
    assert open_incident(db)["trades"] == [nvda]  # the rest still waits
    events = db.query("event_log", {"event": "accepted_gone"})
    assert sorted(e["entity_id"] for e in events) == sorted([aapl, msft])
    assert jobs.position_monitor().status == "FAIL"
    assert _accept(capsys, [nvda]) == 0
    assert open_incident(db) is None
    exchange.control.advance(61)
    assert jobs.position_monitor().status == "PASS"
    assert not _halted(db)
    assert _health(jobs, exchange.venue.clock.now())["incident"][0] == "OK"
    # The closed trades' protection the broker no longer knows is not a problem either.
    exchange.control.advance(10 * 60)
    assert jobs.order_monitor().problems == []
    assert "EXECUTED" == outcome_of_new_entry(db, jobs)


def outcome_of_new_entry(db, jobs) -> str:
    d = add_decision(db, entry("TSLA", entry_price="251.00", stop_loss="240.00",
                               take_profit="270.00", quantity=1))
    jobs.executor()
    return str(outcome(db, d)["terminal_state"])


def test_the_exchange_restarted_with_an_empty_book(db, jobs, exchange,
                                                   cli_env, caplog, capsys):
    ids = _book(db, jobs)
    before = exchange.venue.clock.now()
    exchange.control.reset()  # in-memory book gone; same account id (the same seed)
    # the jobs read the restarted exchange's clock at each call
    exchange.control.set_clock(before + timedelta(minutes=1))
    exchange.control.set_prices(PRICES)
    _incident_raised(db, jobs, exchange, ids, caplog)
    _accepted_then_resumed(db, jobs, exchange, ids, capsys)


def test_a_paper_reset(db, jobs, exchange, cli_env, caplog, capsys):
    ids = _book(db, jobs)
    exchange.control._call("POST", "/control/paper_reset")
    _incident_raised(db, jobs, exchange, ids, caplog)
    # A trade not found gone is refused, and nothing of the list is closed.
    assert _accept(capsys, [ids["AAPL"], 999]) == reconcile_cmd.EXIT_REFUSED
    assert _statuses(db, ids)["AAPL"] == "POSITION"
    _accepted_then_resumed(db, jobs, exchange, ids, capsys)


def test_positions_empty_while_orders_and_account_say_otherwise(db, jobs, exchange, caplog):
    ids = _book(db, jobs)
    exchange.control.set_position_lag(10**8)  # GET /v2/positions answers as of years ago: []
    assert jobs.broker.get_positions() == [] and jobs.broker.get_account().long_market_value > 0
    first = jobs.position_monitor()
    assert any("reconciliation skipped" in a for a in first.actions)
    assert not db.query("reconciliation_issue", {"kind": "GONE_AT_BROKER"})  # not believed
    _incident_raised(db, jobs, exchange, ids, caplog)
    assert "long_market_value" in open_incident(db)["cause"]
    exchange.control.set_position_lag(0)  # the positions come back
    exchange.control.advance(1)
    assert jobs.position_monitor().status == "PASS"
    assert open_incident(db) is None and not _halted(db)
    assert set(_statuses(db, ids).values()) == {"POSITION"}
    assert _health(jobs, exchange.venue.clock.now())["incident"][0] == "OK"
    d = add_decision(db, entry("TSLA", entry_price="251.00", stop_loss="240.00",
                               take_profit="270.00", quantity=1))
    jobs.executor()
    assert outcome(db, d)["terminal_state"] == "EXECUTED"  # entries resume


def test_one_trade_whose_orders_the_broker_does_not_know_waits(db, jobs, exchange):
    d = add_decision(db, entry("AAPL", entry_price="181.00", stop_loss="175.00",
                               take_profit="195.00"))
    jobs.executor()
    jobs.order_monitor()
    jid = int(outcome(db, d)["trade_journal_id"])
    exchange.control._call("POST", "/control/paper_reset")
    jobs.position_monitor()
    exchange.control.advance(61)
    report = jobs.position_monitor()
    # One trade is not an incident, but its orders are unknown at the broker: not closed.
    assert open_incident(db) is None
    assert db.get_by_id("trade_journal", jid)["status"] == "POSITION"
    assert report.status == "FAIL" and _halted(db) == "on"


@pytest.mark.parametrize(("gone", "open_", "trades", "pct", "mass"), [
    (1, 1, 2, D(30), False),  # one trade alone: never an incident
    (2, 10, 2, D(30), True),  # the default: any two at once
    (3, 100, 5, D(30), False),  # raised to 5: three of a hundred is not
    (3, 5, 5, D(30), True),  # ...but three of five (60 %) is
    (0, 0, 2, D(30), False),
])
def test_what_counts_as_a_mass_disappearance(gone, open_, trades, pct, mass):
    assert is_mass(gone, open_, trades, pct) is mass


@pytest.mark.parametrize("unreadable", ["GET /v2/account",
                                        "GET /v2/account/activities/{activity_type}"])
def test_one_trade_gone_waits_while_the_account_or_the_activities_cannot_be_read(
        db, jobs, exchange, unreadable):
    """A single trade gone without a fill is closed after the grace only with the account and
    the fill activities readable in that cycle; while either fails, it waits."""
    from tests.helpers import ledger

    jid = ledger(db).adopt_external_position("SPY", D(3), D("600.00"), "held, then gone")
    jobs.position_monitor()  # the grace starts
    exchange.control.advance(61)
    exchange.control.set_fault(unreadable, "http_status", status=503, count=100)
    for _ in range(2):
        with pytest.raises(TemporaryError):  # the cycle fails on the unreadable answer
            jobs.position_monitor()
        assert db.get_by_id("trade_journal", jid)["status"] == "POSITION"
    exchange.control.clear_faults()
    jobs.position_monitor()
    journal = db.get_by_id("trade_journal", jid)
    assert (journal["status"], journal["exit_reason_code"], journal["exit_estimated"]) == (
        "CLOSED", "EXTERNAL", True)
    assert open_incident(db) is None


def test_positions_empty_while_only_our_live_stops_say_otherwise(db, jobs, exchange, caplog):
    """The account without its market values (drift: optional fields left out), the
    positions empty: our live stops protecting filled entries are the contradiction."""
    ids = _book(db, jobs)
    exchange.control.set_drift(True)
    exchange.control.set_position_lag(10**8)
    assert jobs.broker.get_positions() == [] and jobs.broker.get_account().long_market_value is None
    first = jobs.position_monitor()
    assert any("live stop(s) of ours" in a for a in first.actions), first.actions
    assert not db.query("reconciliation_issue", {"kind": "GONE_AT_BROKER"})
    _incident_raised(db, jobs, exchange, ids, caplog)
    assert "live stop(s) of ours" in open_incident(db)["cause"]
    exchange.control.set_position_lag(0)
    exchange.control.advance(1)
    assert jobs.position_monitor().status == "PASS"
    assert open_incident(db) is None and set(_statuses(db, ids).values()) == {"POSITION"}


def test_a_lone_trade_is_not_closed_on_an_empty_answer_beside_an_untraded_asset(
        db, jobs, exchange):
    """One trade (never a mass disappearance), the positions listing only an asset of a class
    we do not trade: before, it was closed EXTERNAL at an estimate; now our live stop says
    the answer is wrong, and it waits."""
    d = add_decision(db, entry("AAPL", entry_price="181.00", stop_loss="175.00",
                               take_profit="195.00"))
    jobs.executor()
    jobs.order_monitor()
    jid = int(outcome(db, d)["trade_journal_id"])
    exchange.control.set_drift(True)  # lists a decoy position of an unknown asset class
    exchange.control.set_position_lag(10**8)
    jobs.position_monitor()
    exchange.control.advance(61)
    assert any("reconciliation skipped" in a for a in jobs.position_monitor().actions)
    assert db.get_by_id("trade_journal", jid)["status"] == "POSITION"
