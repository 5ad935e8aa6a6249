"""The broker account is part of the books (issue 27), on the paper exchange serving two
accounts (`POST /control/account`): the first job records the account; keys that lead to
another account make every job refuse with both ids named, an ALERT and `health` CRITICAL
(the Daemon itself exits 2: tests/integration/test_fail_closed_exit.py); the right keys back,
everything
resumes; adopting an account is
an explicit, recorded command, and even then no trade is closed on the new account's word.
"""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from tests.conftest import exchange_env
from tests.helpers import add_decision, entry, ledger, outcome
from tests.integration.test_fail_closed_incident import cli_env  # noqa: F401 (a fixture)
from tests.support.jobs import Jobs, marketable
from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.transport import RequestBudget
from trading_monitor.cli import reconcile as reconcile_cmd
from trading_monitor.cli.health import run_checks
from trading_monitor.daemon.jobs import JobState, guarded
from trading_monitor.daemon.schedule import job_specs
from trading_monitor.engine.account_guard import AccountMismatch, recorded_account
from trading_monitor.position_monitor.incident import open_incident
from trading_monitor.settings.config import load_settings

D = Decimal
OTHER = "0f0f0f0f-second-paper-account"


@pytest.fixture
def settings(exchange):
    return load_settings(exchange_env(exchange, RECONCILE_GRACE_SECONDS="60"), need_broker=True)


def _switch(exchange, account_id: str):
    """The keys now lead to `account_id`: a new broker, as a restart with new keys makes."""
    exchange.control._call("POST", "/control/account", {"account_id": account_id})
    settings = load_settings(exchange_env(exchange, RECONCILE_GRACE_SECONDS="60"),
                             need_broker=True)
    return AlpacaBroker(settings, budget=RequestBudget(100_000))


def _positions(db, jobs: Jobs) -> list[int]:
    return list(jobs.book(db, marketable("AAPL"), marketable("MSFT", take_profit="440.00"))
                .values())


def _checks(db_params, settings, now, broker=False):
    return {c.name: (c.state, c.message)
            for c in run_checks(db_params, settings, now, broker=broker)}


def test_the_first_job_records_the_account_on_the_books(db, jobs, broker):
    early = ledger(db).adopt_external_position("SPY", D(1), D("600.00"), "before any job")
    assert db.get_by_id("trade_journal", early)["broker_account_id"] is None
    ids = _positions(db, jobs)
    account = broker.get_account().account_id
    assert recorded_account(db) == account
    stamped = {r["broker_account_id"] for r in db.query("trade_journal")}
    assert stamped == {account} and len(ids) == 2  # the early row filled in too
    assert {r["broker_account_id"] for r in db.query("broker_snapshot")} == {account}
    [event] = db.query("event_log", {"entity": "broker_account"})
    assert event["event"] == "recorded" and event["to_status"] == account


def test_keys_of_another_account_make_every_job_refuse(db, db_params, jobs, settings,
                                                       exchange, caplog):
    ids = _positions(db, jobs)
    books = recorded_account(db)
    other = jobs.with_broker(_switch(exchange, OTHER))
    now = exchange.venue.clock.now()
    # health's own account read sees it before any job has run
    assert _checks(db_params, settings, now, broker=True)["account"][0] == "CRITICAL"
    d = add_decision(db, entry("NVDA", entry_price="131.00", stop_loss="125.00",
                               take_profit="140.00"))
    with caplog.at_level(logging.ERROR):
        for job in (other.executor, other.order_monitor, other.position_monitor):
            with pytest.raises(AccountMismatch) as refused:
                job()
            assert books in str(refused.value) and OTHER in str(refused.value)
    assert db.query("decision_outcome", {"analysis_decision_id": d}) == []  # not traded
    exchange.control.advance(120)
    with pytest.raises(AccountMismatch):
        other.position_monitor()
    assert {db.get_by_id("trade_journal", j)["status"] for j in ids} == {"POSITION"}
    assert open_incident(db) is None  # nothing reconciled against the wrong account
    failed = [r for r in db.query("job_run") if r["status"] == "FAILED"]
    assert len(failed) == 4 and all(OTHER in r["error"] and books in r["error"] for r in failed)
    assert any(r.getMessage().startswith("ALERT broker account mismatch")
               and "--adopt-account" in r.getMessage() for r in caplog.records)
    state, message = _checks(db_params, settings, now)["account"]  # --no-broker too
    assert state == "CRITICAL" and books in message and OTHER in message
    # A bare JobState (no `stop`: not a Daemon's) pauses its trading jobs, naming both ids.
    daemon = JobState()
    spec = {s.job_id: s for s in job_specs(settings)}["order_executor"]
    guarded(spec, lambda: other.executor(), is_leader=lambda: True,
            allowed=lambda s: True, state=daemon)()
    assert OTHER in (daemon.paused or "") and books in (daemon.paused or "")
    # The right keys back: everything resumes, without an operator.
    back = jobs.with_broker(_switch(exchange, str(books)))
    back.executor()
    assert outcome(db, d)["terminal_state"] == "EXECUTED"
    assert back.position_monitor().status == "PASS"
    assert _checks(db_params, settings, exchange.venue.clock.now())["account"][0] == "OK"


def test_adopting_another_account_is_recorded_and_closes_nothing(
        db, jobs, exchange, cli_env, capsys):  # noqa: F811
    ids = _positions(db, jobs)
    books = recorded_account(db)
    other = jobs.with_broker(_switch(exchange, OTHER))
    with pytest.raises(SystemExit) as usage:  # a reason is required
        reconcile_cmd.main(["--adopt-account", OTHER])
    assert usage.value.code == 2 and recorded_account(db) == books
    capsys.readouterr()
    # Refused while our trades are open in the old account
    # (tests/integration/test_fail_closed_adopted.py)
    assert reconcile_cmd.main(["--adopt-account", OTHER, "--reason", "moved to paper #2"]) == 4
    assert recorded_account(db) == books
    assert reconcile_cmd.main(["--adopt-account", OTHER, "--leave-open-trades",
                               "--reason", "moved to paper #2"]) == 0
    assert recorded_account(db) == OTHER
    [event] = [e for e in db.query("event_log", {"entity": "broker_account"})
               if e["to_status"] == OTHER]
    assert event["from_status"] == books and "moved to paper #2" in event["message"]
    # The new account holds none of our positions: the old trades are held at their
    # account, not managed here; nothing is closed, and no incident.
    other.position_monitor()
    exchange.control.advance(61)
    assert other.position_monitor().status == "PASS"
    assert {db.get_by_id("trade_journal", j)["status"] for j in ids} == {"POSITION"}
    assert open_incident(db) is None
