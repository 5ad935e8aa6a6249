"""Log lines a person can read: a clean stop of the order stream (and of the daemon, by
SIGTERM) logs no websocket WARNING, `execute` says each decision once, and a job's run id
and clock never leak into the lines and rows of what runs after it on the same thread."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import exchange_env
from tests.helpers import exchange_now
from tests.stream_fixtures import wait_within
from trading_monitor.broker.stream import TradeUpdateStream
from trading_monitor.daemon.logs import RunIdFilter
from trading_monitor.db.clock import job_clock
from trading_monitor.ledger.runs import current_run_id
from trading_monitor.order_monitor.service import monitor_once

ROOT = Path(__file__).resolve().parents[2]


def _loud(caplog: pytest.LogCaptureFixture, *loggers: str) -> list[str]:
    return [f"{r.levelname} {r.name}: {r.getMessage()}" for r in caplog.records
            if r.levelno >= logging.WARNING and r.name.startswith(loggers or ("",))]


def test_a_clean_stop_of_the_stream_logs_no_warning(settings, exchange, caplog):
    caplog.set_level(logging.DEBUG)
    stream = TradeUpdateStream(settings, on_event=lambda _: None,
                               on_connect=lambda: None).start()
    wait_within(lambda: stream.connected, 10)
    stream.stop()
    wait_within(lambda: exchange.control.state()["stream_listeners"] == 0, 10)
    assert _loud(caplog) == []
    assert any("Trading stream stopped" in r.getMessage() for r in caplog.records)


def test_a_clean_listener_stop_logs_no_warning(listener, caplog):
    caplog.set_level(logging.DEBUG)
    listener.stop()  # its first sync may still be logging on its own thread: not this test's
    assert _loud(caplog, "alpaca", "websockets", "trading_monitor.broker.stream",
                 "trading_monitor.order_monitor.listener") == []


def _daemon(db_params, exchange, cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA", "POSTGRES"))}
    env.update(exchange_env(exchange, DAEMON_FAST_SECONDS="0.5", LOG_LEVEL="INFO"))
    env["DATABASE_URL"] = (f"postgresql://{db_params['user']}@{db_params['host']}:"
                           f"{db_params['port']}/{db_params['dbname']}")
    return subprocess.Popen([sys.executable, "-m", "trading_monitor.cli", "run"], env=env,
                            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def test_sigterm_stops_the_daemon_without_a_websocket_warning(db, db_params, exchange,
                                                              tmp_path):
    proc = _daemon(db_params, exchange, tmp_path)
    try:
        wait_within(lambda: proc.poll() is not None
                    or exchange.control.state()["stream_listeners"] == 1, 60)
        assert proc.poll() is None, proc.communicate()[0][-3000:]
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out[-3000:]
    assert "trade_updates stream connected" in out
    warnings = [line for line in out.splitlines() if " WARNING " in line or " ERROR " in line]
    assert not [w for w in warnings if "stream" in w or "websocket" in w.lower()], warnings


def test_a_jobs_run_id_and_clock_do_not_leak_into_the_next_lines(db_params, broker, settings):
    """The order stream's first sync and the election's start-up reconciliation run a job
    on a thread that goes on with other work: after the job, that thread's lines carry no
    run id and its rows no job clock."""
    seen: dict[str, object] = {}

    def thread() -> None:
        monitor_once(db_params, broker, settings, now=exchange_now)
        seen["after"] = current_run_id.get()
        seen["clock"] = job_clock.get()
        record = logging.LogRecord("t", logging.INFO, __file__, 1, "after the job", None, None)
        RunIdFilter([]).filter(record)
        seen["line"] = record.run_id  # type: ignore[attr-defined]

    worker = threading.Thread(target=thread)
    worker.start()
    worker.join(60)
    assert (seen["after"], seen["clock"], seen["line"]) == ("-", None, "-")


def test_execute_says_each_decision_once(tmp_path):
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "trading_monitor.cli", "execute",
                           "--test-mode"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = (done.stdout + done.stderr).splitlines()
    for text in ("stop 171.00", "malformed decision", "no action; trade #1"):
        assert len([line for line in lines if text in line]) == 1, (text, lines)
