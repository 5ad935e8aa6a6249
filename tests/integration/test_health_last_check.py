"""`health` and the last invariant check: it says when none ran, and is never OK beside a
failing `check`. And its first contact: with nothing configured it says what to set up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from tests.conftest import exchange_env
from tests.helpers import add_decision, entry
from trading_monitor.cli import health
from trading_monitor.cli import health_checks as hc
from trading_monitor.cli.last_check import NONE_RAN, check_invariants
from trading_monitor.invariants.cli import main as check
from trading_monitor.settings.config import load_settings


@pytest.fixture
def cli_env(monkeypatch, tmp_path, db_params, exchange):
    for key in list(os.environ):
        if key.startswith(("ALPACA_", "POSTGRES_", "TEST_POSTGRES", "TEST_DATABASE", "DATABASE_")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no stray .env
    for key, value in exchange_env(exchange).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DATABASE_URL", f"postgresql://{db_params['user']}@{db_params['host']}:"
                                      f"{db_params['port']}/{db_params['dbname']}")
    return monkeypatch


def _invariants(capsys) -> tuple[int, dict, str]:
    code = health.main(["--json", "--no-broker"])
    report = json.loads(capsys.readouterr().out)
    [line] = [c for c in report["checks"] if c["name"] == "invariants"]
    return code, line, report["summary"]


def test_health_says_no_check_ran_and_is_critical_beside_a_failing_one(cli_env, db, exchange,
                                                                       capsys):
    code, line, _ = _invariants(capsys)
    assert (line["status"], line["message"]) == ("OK", NONE_RAN)
    ctx = hc.Context(now=datetime.now(timezone.utc), settings=load_settings(exchange_env(
        exchange), need_broker=True))
    calm = [hc.Check("database", hc.OK, "database reachable"), check_invariants(db, ctx)]
    assert health.summary(calm) == (f"OK: 2 checks passed (database, invariants); {NONE_RAN}")

    assert check(["--no-broker"]) == 0  # nothing in the books: every invariant holds
    capsys.readouterr()
    code, line, _ = _invariants(capsys)
    assert line["status"] == "OK" and "every invariant held" in line["message"]
    assert NONE_RAN not in health.summary([check_invariants(db, ctx)])

    # A decision marked executed with no outcome breaks terminal_state.
    decision = add_decision(db, entry())
    db.execute_update("UPDATE analysis_decision SET executed = true WHERE id = %s", [decision])
    assert check(["--no-broker"]) == 1
    capsys.readouterr()
    code, line, summary = _invariants(capsys)
    assert code == 2 and line["status"] == "CRITICAL", line
    assert "the last invariant check" in summary and "violation" in summary
    assert line["detail"]["violations"] >= 1 and line["detail"]["exit_code"] == 1


@pytest.mark.parametrize("argv", [["health"], ["health", "--no-broker"]])
def test_health_first_contact_says_what_to_set_up(tmp_path, argv):
    done = subprocess.run([sys.executable, "-m", "trading_monitor.cli", *argv], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False,
                          env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    out = done.stdout + done.stderr
    assert done.returncode == 3, out  # UNKNOWN, as `health --help` documents
    assert out.startswith("UNKNOWN: ") and "Traceback" not in out
    assert "retry later" not in out and "Copy .env.example to .env" in out
    assert "DATABASE_URL" in out and "POSTGRES_" in out and "--no-broker" in out
