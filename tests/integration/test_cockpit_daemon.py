"""The cockpit inside the real daemon: its start and stop are messages the leader sends from
the outbox (a standby sends none), and the dead-man's switch: /start when it leads, a ping
per HEARTBEAT_PING_SECONDS while the jobs keep their deadlines, /fail once on a fatal pause
or a stuck job, silence on a standby."""

from __future__ import annotations

import os
import socket
import threading
from datetime import timedelta

import pytest

from tests.cockpit_endpoints import Endpoint, wait_for
from tests.conftest import exchange_env
from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.transport import RequestBudget
from trading_monitor.clock import system_clock
from trading_monitor.cockpit.heartbeat import Pinger
from trading_monitor.daemon.app import Daemon
from trading_monitor.settings.config import load_settings


@pytest.fixture
def endpoints():
    messages, pings = Endpoint(), Endpoint()
    yield messages, pings
    messages.close()
    pings.close()


def _daemon(db_params, exchange, **env) -> Daemon:
    settings = load_settings(exchange_env(exchange, **env), need_broker=True)
    broker = AlpacaBroker(settings, budget=RequestBudget(100_000))
    return Daemon(settings, db_params, broker, now=exchange.venue.clock.now,
                  election_seconds=0.2, heartbeat_seconds=0.2, fast_seconds=0.5)


def test_the_leader_sends_start_and_stop_and_pings_the_dead_mans_switch(
        db, db_params, exchange, endpoints):
    messages, pings = endpoints
    daemon = _daemon(db_params, exchange, NOTIFY_URLS=messages.json_url,
                     NOTIFY_SEND_SECONDS="0.3", HEARTBEAT_URL=pings.http_url,
                     HEARTBEAT_PING_SECONDS="5")
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: [m for m in messages.messages() if m.startswith("DAEMON STARTED on ")])
        wait_for(lambda: "/ping/0c1f5a9e-test/start" in pings.paths())
        assert daemon.state.ran >= 0 and daemon.leadership.is_leader
        daemon.state.paused = "order_monitor: the broker account is not the books' account"
        [fail] = wait_for(lambda: [b for p, b in pings.received if p.endswith("/fail")])
        assert fail == ("trading paused: order_monitor: the broker account is not the "
                        "books' account")
    finally:
        daemon.stop()
        thread.join(30)
    started, stopped = messages.messages()[0], messages.messages()[-1]
    here = f"{socket.gethostname()}, pid {os.getpid()}"
    assert started == f"DAEMON STARTED on {here} (paper)"
    assert stopped == f"DAEMON STOPPED on {here} (paper)"  # sent on the way out
    rows = db.execute_query("SELECT status FROM notify_outbox o JOIN event_log e "
                            "ON e.id = o.event_log_id WHERE e.entity = 'daemon'")
    assert [r["status"] for r in rows] == ["sent", "sent"]


def test_the_ping_keeps_its_period_and_stops_for_a_stuck_job_or_a_standby(endpoints):
    _messages, pings = endpoints
    ticks = [0.0]
    pinger = Pinger(pings.http_url, 60, clock=lambda: ticks[0])
    assert pinger.beat(leader=False, problem=None) is None  # a standby never pings
    assert pinger.beat(leader=True, problem=None) == "/start"
    ticks[0] = 30
    assert pinger.beat(leader=True, problem=None) is None  # within the period
    ticks[0] = 60
    assert pinger.beat(leader=True, problem=None) == ""
    stuck = "stuck: order_executor running for 400 s, past JOB_DEADLINE_SECONDS=300"
    ticks[0] = 200
    assert pinger.beat(leader=True, problem=stuck) == "/fail"
    assert pinger.beat(leader=True, problem=stuck) is None  # once per cause
    assert pinger.beat(leader=True, problem=None) == ""  # the job ended: pings again at once
    wait_for(lambda: len(pings.received) == 4)
    assert sorted(pings.paths()) == sorted([
        "/ping/0c1f5a9e-test/start", "/ping/0c1f5a9e-test", "/ping/0c1f5a9e-test/fail",
        "/ping/0c1f5a9e-test"])
    assert (("/ping/0c1f5a9e-test/fail", stuck) in pings.received)


def test_a_stuck_job_sends_fail_from_the_daemons_heartbeat(db, db_params, exchange,
                                                           endpoints):
    _messages, pings = endpoints
    daemon = _daemon(db_params, exchange, HEARTBEAT_URL=pings.http_url,
                     JOB_DEADLINE_SECONDS="60")
    daemon.elect()  # leader: /start
    wait_for(lambda: pings.paths() == ["/ping/0c1f5a9e-test/start"])
    daemon.state.running["order_executor"] = system_clock() - timedelta(seconds=90)
    daemon.beat()
    [(path, body)] = wait_for(lambda: pings.received[1:])
    assert path.endswith("/fail") and body.startswith("stuck: order_executor running for 90 s")
    daemon.close()


def test_a_dead_ping_target_never_stops_the_heartbeat(db, db_params, exchange):
    gone = Endpoint()
    url = gone.http_url
    gone.close()
    daemon = _daemon(db_params, exchange, HEARTBEAT_URL=url)
    daemon.elect()
    daemon.beat()  # the ping fails in its own thread; the heartbeat row is written
    [row] = db.query("daemon_heartbeat")
    assert row["role"] == "leader"
    daemon.close()


def test_a_standby_sends_no_message(db, db_params, exchange, endpoints):
    messages, _pings = endpoints
    standby = _daemon(db_params, exchange, NOTIFY_URLS=messages.json_url)
    standby.cockpit.daemon_event(standby._db, "started")  # what run() writes first
    standby.cockpit.send()  # never elected: not the leader
    assert [r["status"] for r in db.query("notify_outbox")] == ["pending"]
    standby.elect()
    standby.cockpit.send()
    assert [r["status"] for r in db.query("notify_outbox")] == ["sent"]
    assert messages.messages()[0].startswith("DAEMON STARTED on ")
    standby.close()
