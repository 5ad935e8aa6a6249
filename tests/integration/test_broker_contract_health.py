"""`health` names a broken broker contract (system_state broker_contract_error, kept by
broker/contract.py) as CRITICAL until a later read of that endpoint succeeds."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

import pytest

from trading_monitor.broker import contract
from trading_monitor.cli import health
from trading_monitor.clock import fixed_clock
from trading_monitor.exceptions import BrokerContractError

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)


@pytest.fixture
def health_env(monkeypatch, tmp_path, db_params):
    for key in list(os.environ):
        if key.startswith(("ALPACA_", "POSTGRES_", "TEST_POSTGRES", "TEST_DATABASE",
                           "DATABASE_", "TRADING_HALTED", "MAX_")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATABASE_URL", f"postgresql://{db_params['user']}@{db_params['host']}:"
                                       f"{db_params['port']}/{db_params['dbname']}")


def _contract_check(capsys) -> dict:
    health.main(["--no-broker", "--json"], now=fixed_clock(NOW))
    report = json.loads(capsys.readouterr().out)
    return next(c for c in report["checks"] if c["name"] == "broker_contract") | {
        "summary": report["summary"]}


def _seen(broken: BrokerContractError | None = None, fine: set[str] | None = None
          ) -> contract.ContractLog:
    return contract.ContractLog({broken.endpoint: broken} if broken else {}, fine or set())


def test_a_broken_contract_is_critical_until_its_endpoint_reads_fine(health_env, db, capsys):
    assert _contract_check(capsys)["status"] == "OK"
    error = BrokerContractError("GET /v2/account", "equity")
    contract.record(db, _seen(error), NOW - timedelta(minutes=7))
    check = _contract_check(capsys)
    assert check["status"] == "CRITICAL"
    assert check["message"].startswith(
        "broker contract broken: GET /v2/account lacks field 'equity', 7 min ago")
    assert check["detail"]["endpoint"] == "GET /v2/account"
    assert "broker contract broken: GET /v2/account" in check["summary"]
    contract.record(db, _seen(fine={"GET /v2/positions"}), NOW)  # another endpoint: still
    assert _contract_check(capsys)["status"] == "CRITICAL"
    contract.record(db, _seen(fine={"GET /v2/account"}), NOW)  # the endpoint reads fine
    assert _contract_check(capsys)["status"] == "OK"


def test_a_value_health_cannot_parse_is_still_critical(health_env, db, capsys):
    db.named_update("set_system_value", {"key": "broker_contract_error",
                                         "value": "orders lost their 'status'",
                                         "reason": "hand-written"})
    check = _contract_check(capsys)
    assert check["status"] == "CRITICAL"
    assert "orders lost their 'status'" in check["message"]
    db.named_update("set_system_value", {"key": "broker_contract_error", "value": json.dumps(
        {"endpoint": "GET /v2/orders", "field": "order.status", "at": None}), "reason": "x"})
    check = _contract_check(capsys)
    assert check["status"] == "CRITICAL" and "'order.status' (" in check["message"]
