"""`python scheduler.py` as a real process against the paper exchange: it carries one
decision from the decisions table to a closed trade with no other help, and SIGTERM in the
middle of a job lets the job finish and exits 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import exchange_env
from tests.helpers import add_decision, entry

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.drills


def _start(db_params, exchange, tmp_path, **env_extra) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA", "POSTGRES"))}
    env.update(exchange_env(exchange, DAEMON_FAST_SECONDS="0.5", PROTECTION_MODE="staged",
                            **env_extra))
    env["DATABASE_URL"] = (f"postgresql://{db_params['user']}@{db_params['host']}:"
                           f"{db_params['port']}/{db_params['dbname']}")
    return subprocess.Popen([sys.executable, str(ROOT / "scheduler.py")], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _wait(condition, seconds: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"the daemon exited: {proc.stdout.read().decode()[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"not within {seconds}s: {proc.stdout.read().decode()[-3000:]}")
        time.sleep(0.1)


def _stop(proc: subprocess.Popen, bound: float = 30) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=bound)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def test_the_daemon_carries_a_decision_to_a_closed_trade(db, db_params, exchange, tmp_path):
    d = add_decision(db, entry(entry_price="181.00", stop_loss="175.00", take_profit="195.00"))
    proc = _start(db_params, exchange, tmp_path)

    def journal():
        rows = db.query("trade_journal", {"initial_analysis_id": d})
        return rows[0] if rows else None

    _wait(lambda: journal() is not None and journal()["protected_at"] is not None, 60, proc)
    exchange.control.set_price("AAPL", "170.00")  # the market falls through the stop
    _wait(lambda: journal()["status"] == "CLOSED", 60, proc)
    assert _stop(proc) == 0
    closed = journal()
    assert closed["exit_reason_code"] == "STOPPED_OUT" and closed["actual_pnl"] < 0
    assert {r["job_name"] for r in db.query("job_run")} >= {
        "order_executor", "order_monitor", "position_monitor"}
    assert db.query("daemon_heartbeat")[0]["role"] == "stopping"


def test_sigterm_in_the_middle_of_a_job_lets_it_finish(db, db_params, exchange, tmp_path):
    add_decision(db, entry())
    exchange.control.set_fault("POST /v2/orders", "latency", ms=3000, count=1)
    proc = _start(db_params, exchange, tmp_path)
    _wait(lambda: bool(db.query("order_execution")), 60, proc)  # the executor is mid-submit
    started = time.monotonic()
    assert _stop(proc) == 0
    assert time.monotonic() - started < 30
    runs = db.query("job_run", {"job_name": "order_executor"})
    assert runs and all(r["status"] != "RUNNING" for r in runs)  # finished, not cut off
    [entry_row] = [r for r in db.query("order_execution") if r["order_role"] == "ENTRY"]
    assert entry_row["order_status"] != "pending_submit" and len(exchange.control.orders()) >= 1
