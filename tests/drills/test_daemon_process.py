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
from tests.drills.support import SLOW_MACHINE
from tests.helpers import add_decision, entry

ROOT = Path(__file__).resolve().parents[2]
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


# -- leadership: two daemons, and the leader killed ----------------------------------------

def _books(db, exchange) -> str:
    """Our rows and the broker's orders, the columns that tell a story, for a failure."""
    keep = ("id", "decision_id", "trade_journal_id", "symbol", "ticker", "status", "outcome",
            "reason", "protected_at", "order_role", "order_status", "qty", "quantity",
            "client_order_id", "side", "order_type", "type", "filled_qty", "job_name", "error",
            "alpaca_order_id", "cum_qty", "source", "key", "value", "entity", "entity_id",
            "event", "message", "filled_at", "transaction_time")
    rows = [(table, row) for table in ("decision_outcome", "trade_journal", "order_execution",
                                       "position_tracking", "fills", "system_state")
            for row in db.query(table)]
    rows += [("event", e) for e in db.query("event_log")[-25:]]
    rows += [("broker", o) for o in exchange.control.orders()]
    rows += [("job_run", r) for r in db.query("job_run")[-15:]]
    return "\n".join(f"{table}: {({k: v for k, v in row.items() if k in keep})}"
                     for table, row in rows)[-14000:]


def _lock_holders(db) -> int:
    from trading_monitor.daemon.leader import LEADER_LOCK_KEY

    return db.execute_query(
        "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND classid = %s AND objid = %s AND objsubid = 1 AND database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())",
        [LEADER_LOCK_KEY >> 32, LEADER_LOCK_KEY & 0xFFFFFFFF])[0]["n"]


def _live_leaders(db, daemons) -> list[int]:
    alive = {d.proc.pid for d in daemons if d.proc.poll() is None}
    return [r["pid"] for r in db.query("daemon_heartbeat", {"role": "leader"})
            if r["pid"] in alive]


def test_two_daemons_and_the_leader_killed_still_give_one_leader(db, db_params, exchange,
                                                                 tmp_path):
    from tests.drills.support import assert_books_hold
    from tests.drills.test_drills_monitors import _Daemon
    from trading_monitor.settings.config import load_settings

    daemons = [_Daemon(exchange, db_params, tmp_path), _Daemon(exchange, db_params, tmp_path)]
    seen: list[tuple[int, int]] = []  # (lock holders, live leaders) sampled all along

    def one_leader() -> bool:
        sample = (_lock_holders(db), len(_live_leaders(db, daemons)))
        seen.append(sample)
        return sample == (1, 1) and len(db.query("daemon_heartbeat")) == 2

    daemons[0].wait_for(one_leader, SLOW_MACHINE)
    [leader_pid] = _live_leaders(db, daemons)
    leader = next(d for d in daemons if d.proc.pid == leader_pid)
    standby = next(d for d in daemons if d is not leader)
    d1 = add_decision(db, entry(entry_price="181.00", stop_loss="175.00", take_profit="195.00"))
    standby.wait_for(lambda: one_leader() and bool(db.query("decision_outcome")),
                     SLOW_MACHINE)
    ran = {r["pid"] for r in db.query("job_run") if r["job_name"] == "order_executor"}
    assert ran == {leader_pid}, "the standby traded"

    leader.proc.send_signal(signal.SIGKILL)  # kill -9: no release, no goodbye
    assert leader.wait_exit(10) == -signal.SIGKILL
    killed_at = time.monotonic()
    standby.wait_for(lambda: one_leader() and _live_leaders(db, daemons) == [standby.proc.pid],
                     SLOW_MACHINE)
    took_over = time.monotonic() - killed_at
    [dead] = db.query("daemon_heartbeat", {"pid": leader_pid})  # not reported alive (issue 28)
    assert dead["role"] == "stopping" and dead["trading_paused"].startswith("superseded: ")
    d2 = add_decision(db, entry("MSFT", entry_price="421.00", stop_loss="410.00",
                                take_profit="440.00"))

    def both_protected() -> bool:
        one_leader()
        journals = db.query("trade_journal")
        return len(journals) == 2 and all(j["protected_at"] for j in journals)

    standby.wait_for(both_protected, SLOW_MACHINE, explain=lambda: _books(db, exchange))
    assert standby.stop() == 0, standby.tail()
    assert max(h for h, _ in seen) == 1 and max(n for _, n in seen) == 1, "two leaders"
    after = {r["pid"] for r in db.query("job_run", {"job_name": "order_executor"})}
    assert after <= {leader_pid, standby.proc.pid}
    assert [o["analysis_decision_id"] for o in db.query("decision_outcome")] == [d1, d2]
    settings = load_settings(exchange_env(exchange, PROTECTION_MODE="staged"), need_broker=True)
    assert_books_hold(db, db_params, exchange, settings)
    print(f"\nleader pid {leader_pid} killed; standby {standby.proc.pid} led after "
          f"{took_over:.1f}s; {len(seen)} samples, never two leaders")
