"""R13: a job that hangs (here the start-up reconciliation, blocked on a table lock with no
lock timeout) is caught by its deadline: an ALERT, `health` CRITICAL naming the job, and no
more systemd WATCHDOG=1, so systemd restarts the daemon. When the job ends, the watchdog is
fed again."""

from __future__ import annotations

import logging
import socket
import threading
import time
from datetime import timedelta

from tests.conftest import exchange_env
from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.transport import RequestBudget
from trading_monitor.cli import health_checks as hc
from trading_monitor.cli.health import run_checks
from trading_monitor.clock import system_clock
from trading_monitor.daemon.app import Daemon
from trading_monitor.db.connection import TradingDB
from trading_monitor.ledger.alerts import AlertHandler, Alerts
from trading_monitor.settings.config import load_settings


def _wait(condition, seconds: float) -> None:
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, f"not within {seconds}s"
        time.sleep(0.05)


def _datagrams(sock: socket.socket) -> list[bytes]:
    got = []
    while True:
        try:
            got.append(sock.recv(100))
        except BlockingIOError:
            return got


def _health(db_params, settings) -> dict[str, hc.Check]:
    # With a lock timeout: the checks that read system_state must not hang on the lock too.
    config = {**db_params, "options": "-c lock_timeout=500"}
    return {c.name: c for c in run_checks(config, settings, system_clock(), broker=False)}


def test_a_hung_job_stops_the_watchdog_and_makes_health_critical(
        db, db_params, exchange, tmp_path, monkeypatch):
    path = str(tmp_path / "notify")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    listener.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    settings = load_settings(exchange_env(exchange, JOB_DEADLINE_SECONDS="1"), need_broker=True)
    broker = AlpacaBroker(settings, budget=RequestBudget(100_000))
    alerts_db = TradingDB(config=db_params)  # its own connection: it runs in the daemon's threads
    handler = AlertHandler(Alerts(alerts_db, [], min_interval=timedelta(minutes=15)))
    logging.getLogger().addHandler(handler)
    # db_params carry no lock timeout: the reconciliation waits on this lock for ever.
    holder = TradingDB(config=db_params).connect()
    holder.connection.cursor().execute("LOCK TABLE system_state IN ACCESS EXCLUSIVE MODE")
    daemon = Daemon(settings, db_params, broker, now=exchange.venue.clock.now,
                    election_seconds=0.2, heartbeat_seconds=0.2, fast_seconds=0.3)
    thread = threading.Thread(target=daemon.run, daemon=True)
    try:
        thread.start()
        # The start-up reconciliation hangs, and so does every trading job that reaches the
        # lock: each is alerted once, by its name.
        _wait(lambda: db.query("alert", {"kind": "job_deadline:startup_reconciliation"}), 15)
        rows = db.query("alert")
        assert {r["kind"].split(":")[0] for r in rows} == {"job_deadline"}
        assert len({r["kind"] for r in rows}) == len(rows)
        assert all("past JOB_DEADLINE_SECONDS=1" in r["message"] for r in rows)
        time.sleep(0.5)
        _datagrams(listener)  # whatever was sent before the deadline passed
        time.sleep(1.5)  # several heartbeats
        assert b"WATCHDOG=1" not in _datagrams(listener)
        checks = _health(db_params, settings)
        beat = checks["heartbeat"]
        assert beat.state == hc.CRITICAL
        assert "startup_reconciliation running for" in beat.message
        holder.connection.rollback()  # the job gets its lock and ends
        _wait(lambda: b"WATCHDOG=1" in _datagrams(listener), 15)
        assert _health(db_params, settings)["heartbeat"].state == hc.OK
    finally:
        holder.close()
        monkeypatch.delenv("NOTIFY_SOCKET")  # a full socket buffer would block a sender
        _datagrams(listener)
        daemon.stop()
        thread.join(timeout=30)
        logging.getLogger().removeHandler(handler)
        alerts_db.close()
        listener.close()
