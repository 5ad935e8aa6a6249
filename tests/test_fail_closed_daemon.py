"""Fail-closed reconciliation through the daemon (issue 27): the real Daemon, its jobs on fast
triggers, against an exchange restarted with an empty book. Nothing is closed, the incident
halts entries and is alerted; after `reconcile --accept-gone`, the daemon's next
reconciliation passes and entries resume, without a restart."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from tests.conftest import exchange_env
from tests.helpers import use_clock
from tests.test_fail_closed_incident import (
    PRICES,
    _book,
    _halted,
    _statuses,
    cli_env,  # noqa: F401 (a fixture)
)
from trading_monitor.commands import reconcile as reconcile_cmd
from trading_monitor.config import load_settings
from trading_monitor.daemon.app import Daemon
from trading_monitor.position_monitor.incident import open_incident


def _wait(condition, seconds: float) -> None:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > seconds:
            raise AssertionError(f"not within {seconds}s")
        time.sleep(0.1)


def _status(db) -> str:
    rows = db.named("system_value", {"key": "reconciliation_status"})
    return str(rows[0]["value"]) if rows else ""


def test_the_daemon_holds_an_emptied_exchange_as_an_incident(db, db_params, broker, exchange,
                                                             cli_env, capsys,  # noqa: F811
                                                             caplog):
    settings = load_settings(exchange_env(exchange, RECONCILE_GRACE_SECONDS="60"),
                             need_broker=True)
    ids = _book(db, db_params, broker, settings)
    before = exchange.venue.clock.now()
    exchange.control.reset()
    use_clock(exchange.venue.clock.now)
    exchange.control.set_clock(before + timedelta(minutes=1))
    exchange.control.set_prices(PRICES)
    daemon = Daemon(settings, db_params, broker, now=lambda: exchange.venue.clock.now(),
                    election_seconds=0.2, heartbeat_seconds=0.2, fast_seconds=0.3)
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        _wait(lambda: daemon.state.ran >= 6, 30)
        assert set(_statuses(db, ids).values()) == {"POSITION"}  # within the grace
        exchange.control.advance(61)
        _wait(lambda: open_incident(db) is not None, 30)
        _wait(lambda: _halted(db) == "on", 10)
        ran = daemon.state.ran
        _wait(lambda: daemon.state.ran >= ran + 6, 30)  # the daemon goes on, books nothing
        assert set(_statuses(db, ids).values()) == {"POSITION"}
        assert daemon.state.paused is None
        assert [r for r in caplog.records  # the ALERT the daemon's handler sends
                if r.getMessage().startswith("ALERT reconciliation incident")]
        code = reconcile_cmd.main(["--accept-gone", ",".join(map(str, ids.values())),
                                   "--reason", "the exchange restarted empty"])
        assert code == 0, capsys.readouterr()
        assert set(_statuses(db, ids).values()) == {"CLOSED"}
        exchange.control.advance(61)
        _wait(lambda: _status(db) == "PASS" and not _halted(db), 30)
    finally:
        daemon.stop()
        thread.join(timeout=30)
