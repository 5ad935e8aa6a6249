"""Crash drills for the monitors and the daemon, as real processes killed with SIGKILL.

tests/drills/test_crash_points.py kills the executor at each of its points and the order and
position monitors at after_fill_seen, after_stop_submit, in_exit and in_reconciliation;
here the position monitor dies at after_trail_submit, and the daemon (`python scheduler.py`,
which runs every job in one process) dies at every named crash point, then starts again.
After each restart the invariant checker passes and the exchange counts no duplicate order,
no lost decision and no unprotected position (tests/drills/support.py).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.drills.support import (
    LIVE,
    ROOT,
    SLOW_MACHINE,
    assert_books_hold,
    job_env,
    kill_job_at,
)
from tests.helpers import add_decision, entry, outcome
from trading_monitor.crashpoints import (
    ENV_VAR,
    EXECUTOR_POINTS,
    ORDER_MONITOR_POINTS,
    POSITION_MONITOR_POINTS,
)
from trading_monitor.settings.config import load_settings

pytestmark = pytest.mark.drills
STAGED = {"PROTECTION_MODE": "staged", "RECONCILE_GRACE_SECONDS": "60"}
ENDED = ("CLOSED", "CANCELLED", "EXPIRED", "REJECTED")
_NOISE = ("skipped: the previous run is still going", " not run: ")


def _staged(exchange):
    from tests.conftest import exchange_env

    return load_settings(exchange_env(exchange, **STAGED), need_broker=True)


def _live_stops(exchange, symbol: str = "AAPL") -> list[dict[str, Any]]:
    return [o for o in exchange.control.orders() if o["symbol"] == symbol
            and o["order_type"] == "stop" and o["status"] in LIVE]


# -- the position monitor at after_trail_submit -----------------------------------------------

def test_position_monitor_killed_after_a_trailing_replace_was_accepted(
        db, db_params, jobs, exchange, tmp_path):
    staged = jobs.with_settings(**STAGED)
    d = add_decision(db, entry(entry_price="181.00", stop_loss="175.00", take_profit="260.00"))
    staged.executor()
    staged.order_monitor()  # filled at 180, protected by an OCO (stop 175)
    exchange.control.set_price("AAPL", "195.00")  # +8.3%: the stop moves to break-even
    code = kill_job_at("trading_monitor.position_monitor", "after_trail_submit", exchange,
                       db_params, tmp_path, **STAGED)
    assert code == -signal.SIGKILL
    [moved] = _live_stops(exchange)  # the PATCH went through; our rows do not know yet
    assert Decimal(moved["stop_price"]) == Decimal("180.00")
    staged.position_monitor()  # the restart adopts the replacement
    staged.position_monitor()
    jid = outcome(db, d)["trade_journal_id"]
    stops = [r for r in db.query("order_execution", {"trade_journal_id": jid})
             if r["order_role"] == "STOP_LOSS"]
    assert [r["order_status"] for r in stops][-1] in ("new", "held", "accepted")
    assert stops[-1]["alpaca_order_id"] == moved["id"]
    assert [Decimal(o["stop_price"]) for o in _live_stops(exchange)] == [Decimal("180.00")]
    assert db.query("position_tracking", {"trade_journal_id": jid})[0]["trail_step"] == 1
    assert_books_hold(db, db_params, exchange, staged.settings)


# -- the daemon, killed at every crash point --------------------------------------------------

class _Daemon:
    """`python scheduler.py` with its output in a file (a full pipe would stall it)."""

    def __init__(self, exchange, db_params, tmp_path: Path, crash_at: str | None = None,
                 **extra: str):
        env = job_env(exchange, db_params, **{"DAEMON_FAST_SECONDS": "0.5", **STAGED, **extra})
        if crash_at:
            env[ENV_VAR] = crash_at
        self.log = tmp_path / f"daemon-{crash_at or 'restart'}-{time.monotonic_ns()}.log"
        self._out = self.log.open("wb")
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "scheduler.py")], env=env,
                                     cwd=tmp_path, stdout=self._out, stderr=subprocess.STDOUT)

    def tail(self) -> str:
        """The log's last lines that say something: in fast mode every job logs "skipped" or
        "not run" twice a second, which would push what went wrong out of the message."""
        lines = self.log.read_text(errors="replace").splitlines()
        telling = [line for line in lines if not any(n in line for n in _NOISE)]
        return "\n".join(telling)[-6000:]

    def wait_exit(self, seconds: float, drive=lambda: None) -> int:
        deadline = time.monotonic() + seconds
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"the daemon did not die in {seconds}s:\n{self.tail()}")
            drive()
            time.sleep(0.1)
        self._out.close()
        return self.proc.returncode

    def wait_for(self, condition, seconds: float, explain=lambda: "") -> None:
        """Until condition(); else fail with the log's tail and `explain()` (the books)."""
        deadline = time.monotonic() + seconds
        while not condition():
            if self.proc.poll() is not None:
                raise AssertionError(f"the daemon exited:\n{self.tail()}\n{explain()}")
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"not within {seconds}s:\n{self.tail()}\n{explain()}")
            time.sleep(0.1)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        finally:
            self._out.close()


def _journals(db) -> list[dict[str, Any]]:
    return db.query("trade_journal")


def _protected(db) -> bool:
    return any(j["protected_at"] is not None for j in _journals(db))


class _Driver:
    """Moves the market so the daemon reaches the point: an exit, a trail step, a cancel."""

    def __init__(self, point: str, db, exchange):
        self.point, self.db, self.exchange, self.done = point, db, exchange, False

    def __call__(self) -> None:
        if self.done:
            return
        if self.point == "in_exit" and _protected(self.db):
            self.exchange.control.set_price("AAPL", "170.00")  # through the stop
            self.done = True
        elif self.point == "after_trail_submit" and _protected(self.db):
            self.exchange.control.set_price("AAPL", "195.00")  # a trail step
            self.done = True
        elif self.point == "after_cancel" and any(
                r["alpaca_order_id"] for r in self.db.query("order_execution")):
            jid = _journals(self.db)[0]["id"]
            add_decision(self.db, {"ticker": "AAPL", "primary_action": "CANCEL",
                                   "existing_trade_journal_id": jid})
            self.done = True


def _settled(point: str, db, exchange) -> bool:
    decisions = db.query("analysis_decision")
    if not decisions or not all(d["executed"] for d in decisions):
        return False
    if any(r["order_status"] == "pending_submit" for r in db.query("order_execution")):
        return False
    journals = _journals(db)
    if not journals or not all(j["status"] in ENDED or (
            j["status"] == "POSITION" and j["protected_at"] is not None) for j in journals):
        return False
    if point == "in_exit":
        return all(j["status"] == "CLOSED" for j in journals)
    if point == "in_reconciliation":
        return [(j["status"], j["exit_reason_code"]) for j in journals] == [
            ("CLOSED", "MANUAL")]
    if point == "after_cancel":
        return all(j["status"] == "CANCELLED" for j in journals)
    if point == "after_trail_submit":
        marks = db.query("position_tracking")
        return bool(marks) and marks[0]["trail_step"] == 1 and [
            Decimal(o["stop_price"]) for o in _live_stops(exchange)] == [Decimal("180.00")]
    return True


DAEMON_POINTS = EXECUTOR_POINTS + ORDER_MONITOR_POINTS + POSITION_MONITOR_POINTS


@pytest.mark.parametrize("point", DAEMON_POINTS)
def test_the_daemon_killed_at_a_crash_point_restarts_clean(point, db, db_params, exchange,
                                                           tmp_path):
    if point == "after_cancel":
        add_decision(db, entry())  # rests at 175 under a 180 market, then is cancelled
    else:
        add_decision(db, entry(entry_price="181.00", stop_loss="175.00",
                               take_profit="260.00"))  # fills at once at 180
    if point == "in_reconciliation":
        # A protected position, then closed by hand while no daemon runs: the next daemon's
        # start-up reconciliation finds the broker flat and dies right there.
        before = _Daemon(exchange, db_params, tmp_path)
        before.wait_for(lambda: _protected(db), SLOW_MACHINE)
        assert before.stop() == 0, before.tail()
        exchange.control.close_position_manually("AAPL")
    first = _Daemon(exchange, db_params, tmp_path, crash_at=point)
    code = first.wait_exit(SLOW_MACHINE, _Driver(point, db, exchange))
    assert code == -signal.SIGKILL, f"{point} not reached (exit {code}):\n{first.tail()}"
    # The daemon's clock reads the exchange once, then runs on the machine's: a short grace
    # instead of moving the exchange's clock.
    grace = {"RECONCILE_GRACE_SECONDS": "2"} if point == "in_reconciliation" else {}
    again = _Daemon(exchange, db_params, tmp_path, **grace)
    again.wait_for(lambda: _settled(point, db, exchange), SLOW_MACHINE)
    assert again.stop() == 0, again.tail()
    counts = assert_books_hold(db, db_params, exchange, _staged(exchange))
    print(f"\ndaemon drill at {point}: killed, restarted, books hold {counts}")
