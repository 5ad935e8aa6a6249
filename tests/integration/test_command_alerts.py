"""The commands deliver their ALERTs as the daemon does (docs/operations.md): through
ALERT_URLS (here apprise's json:// to a local endpoint) and into the `alert` table."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest

from tests.conftest import exchange_env
from tests.helpers import JsonEndpoint, add_decision, entry, exchange_now, outcome
from trading_monitor.broker.models import OrderRequest
from trading_monitor.cli import kill_switch, operator
from trading_monitor.position_monitor.__main__ import main as monitor_positions


@pytest.fixture
def cli_env(monkeypatch, tmp_path, db_params, exchange, endpoint):
    for key in list(os.environ):
        if key.startswith(("ALPACA_", "POSTGRES_", "TEST_POSTGRES", "TEST_DATABASE",
                           "DATABASE_", "ALERT_")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no stray .env
    for key, value in exchange_env(exchange, PROTECTION_MODE="staged",
                                   RECONCILE_GRACE_SECONDS="60",
                                   ALERT_URLS=endpoint.url).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DATABASE_URL", f"postgresql://{db_params['user']}@{db_params['host']}"
                                       f":{db_params['port']}/{db_params['dbname']}")
    return monkeypatch


def _alerts(db) -> list[tuple[str, str]]:
    return [(r["kind"], r["delivery"]) for r in db.query("alert")]


def _titles(endpoint: JsonEndpoint) -> list[str]:
    return [str(m.get("title")) for m in endpoint.received]


def test_kill_switch_and_resume_alert_through_alert_urls(cli_env, db, endpoint):
    assert kill_switch.main(["--reason", "drill"], now=exchange_now) == 0
    assert _alerts(db) == [("halt:kill_switch", "sent")]
    [row] = db.query("alert")
    assert "new entries halted (kill_switch)" in row["message"] and "drill" in row["message"]
    assert operator.resume(["--reason", "drill over"]) == 0
    assert _alerts(db) == [("halt:kill_switch", "sent"), ("operator:resume", "sent")]
    assert "trading resumed: kill_switch cleared" in db.query("alert")[1]["message"]
    assert _titles(endpoint) == ["trading-monitor: halt:kill_switch",
                                 "trading-monitor: operator:resume"]
    assert operator.resume(["--reason", "again"]) == 0  # nothing to clear: no alert
    assert len(db.query("alert")) == 2


def test_approve_exit_alerts_through_alert_urls(cli_env, db, jobs, exchange, endpoint):
    jobs = jobs.with_settings(PROTECTION_MODE="staged")
    d = add_decision(db, entry(entry_price="181.00", stop_loss="175.00", take_profit="195.00"))
    jobs.executor()
    jobs.order_monitor()
    done = outcome(db, d)
    trade = db.get_by_id("trade_journal", done["trade_journal_id"] or 0)
    assert trade is not None and trade["status"] == "POSITION", done["reason"]
    assert operator.approve_exit([str(trade["id"])]) == 0
    assert _alerts(db) == [(f"operator:approve-exit trade #{trade['id']}", "sent")]
    assert _titles(endpoint) == [f"trading-monitor: operator:approve-exit trade #{trade['id']}"]


def test_a_job_commands_alert_goes_out_too(cli_env, db, broker, exchange, endpoint):
    """`monitor-positions` adopts a position no trade explains: untracked_position."""
    broker.submit_order(OrderRequest(client_order_id="by-hand-1", symbol="NVDA", side="buy",
                                     qty=Decimal(5), order_type="market", time_in_force="day"))
    exchange.control.advance(1)
    assert monitor_positions([]) == 0  # within RECONCILE_GRACE_SECONDS: nothing yet
    exchange.control.advance(61)
    assert monitor_positions([]) == 0
    assert ("untracked_position:NVDA", "sent") in _alerts(db)
    assert "trading-monitor: untracked_position:NVDA" in _titles(endpoint)
