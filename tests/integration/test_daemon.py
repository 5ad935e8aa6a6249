"""The daemon: its schedule over real weeks (a DST change, Thanksgiving and its half day),
one leader among two daemons, a job that raises, a fatal error, alerts, and SIGTERM."""

from __future__ import annotations

import json
import threading
import time
from datetime import date, datetime, timedelta

import pytest
import pytz

from tests.conftest import exchange_env
from tests.helpers import JsonEndpoint
from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.models import CalendarDay
from trading_monitor.broker.transport import RequestBudget
from trading_monitor.daemon.app import Daemon
from trading_monitor.daemon.jobs import JobState, guarded
from trading_monitor.daemon.leader import LEADER_LOCK_KEY
from trading_monitor.daemon.schedule import TradingCalendar, job_specs
from trading_monitor.exceptions import FatalError
from trading_monitor.ledger.alerts import Alerts
from trading_monitor.settings.config import load_settings

NY = pytz.timezone("America/New_York")


def _fires(trigger, start: datetime, end: datetime) -> list[datetime]:
    out, t = [], start
    while True:
        t = trigger.get_next_fire_time(None, t)
        if t is None or t > end:
            return out
        out.append(t)
        t = t + timedelta(seconds=1)


def _calendar() -> TradingCalendar:
    """NYSE sessions from the paper exchange's calendar rules (holidays, half days)."""
    from trading_monitor.paper_exchange import clock as sim

    def read(start: date, end: date) -> list[CalendarDay]:
        days = []
        for s in sim.sessions_between(start, end):
            days.append(CalendarDay(s.day, s.open.astimezone(NY), s.close.astimezone(NY)))
        return days
    return TradingCalendar(read, 10)


def _runs(spec, cal: TradingCalendar, start: datetime, end: datetime) -> list[datetime]:
    return [t for t in _fires(spec.trigger, start, end) if cal.allows(spec, t)]


@pytest.fixture
def specs():
    return {s.job_id: s for s in job_specs(load_settings({}))}


def test_a_normal_week(specs):
    cal = _calendar()
    mon = NY.localize(datetime(2026, 11, 16, 0, 0))
    week = mon + timedelta(days=7)
    monitor = _runs(specs["order_monitor"], cal, mon, week)
    monday = [t for t in monitor if t.date() == date(2026, 11, 16)]
    assert monday[0].strftime("%H:%M") == "09:30" and monday[-1].strftime("%H:%M") == "16:00"
    assert len(monday) == 79  # 9:30 to 16:00 every 5 minutes
    positions = [t for t in _runs(specs["position_monitor"], cal, mon, week)
                 if t.date() == date(2026, 11, 16)]
    assert positions[0].strftime("%H:%M") == "09:30" and len(positions) == 40
    executor = [t for t in _runs(specs["order_executor"], cal, mon, week)
                if t.date() == date(2026, 11, 16)]
    assert executor[0].strftime("%H:%M") == "09:45" and executor[1].strftime("%H:%M") == "09:47"
    flatten = _runs(specs["eod_flatten"], cal, mon, week)
    assert [t.strftime("%a %H:%M") for t in flatten] == [
        "Mon 15:50", "Tue 15:50", "Wed 15:50", "Thu 15:50", "Fri 15:50"]
    assert [t.strftime("%a %H:%M") for t in _runs(specs["position_monitor_evening"], cal, mon,
                                                   week)][:1] == ["Mon 18:15"]


def test_thanksgiving_and_its_half_day(specs):
    cal = _calendar()
    start = NY.localize(datetime(2026, 11, 26, 0, 0))
    end = NY.localize(datetime(2026, 11, 28, 0, 0))
    monitor = _runs(specs["order_monitor"], cal, start, end)
    assert not [t for t in monitor if t.date() == date(2026, 11, 26)]  # the holiday
    friday = [t for t in monitor if t.date() == date(2026, 11, 27)]
    assert friday[-1].strftime("%H:%M") == "13:00"  # the early close ends the intraday jobs
    assert [t.strftime("%a %H:%M") for t in _runs(specs["eod_flatten"], cal, start, end)] == [
        "Fri 12:50"]
    assert not _runs(specs["order_monitor_evening"], cal, start,
                     NY.localize(datetime(2026, 11, 27, 0, 0)))


def test_the_march_2027_dst_change(specs):
    cal = _calendar()
    start = NY.localize(datetime(2027, 3, 12, 0, 0))  # Friday before the change (Sun 14th)
    end = NY.localize(datetime(2027, 3, 16, 0, 0))
    runs = _runs(specs["order_monitor"], cal, start, end)
    firsts = {t.date(): t for t in reversed(runs)}
    assert {d: t.strftime("%H:%M %Z") for d, t in sorted(firsts.items())} == {
        date(2027, 3, 12): "09:30 EST", date(2027, 3, 15): "09:30 EDT"}
    assert firsts[date(2027, 3, 15)].astimezone(pytz.utc).hour == 13  # 13:30 UTC, was 14:30


def test_a_job_that_raises_is_logged_and_the_next_one_runs(specs, caplog):
    state = JobState()
    calls = []

    def boom() -> None:
        calls.append("boom")
        raise RuntimeError("bug in a job")

    job = guarded(specs["order_monitor"], boom, is_leader=lambda: True, allowed=lambda s: True,
                  state=state)
    for _ in range(3):
        job()
    assert calls == ["boom"] * 3 and state.paused is None
    assert any("ALERT order_monitor has failed 3 times" in r.message for r in caplog.records)


def test_a_fatal_error_pauses_trading_and_keeps_the_daemon_up(specs, caplog):
    state = JobState()

    def bad_keys() -> None:
        raise FatalError("broker refused the API keys (401)")

    guarded(specs["order_executor"], bad_keys, is_leader=lambda: True, allowed=lambda s: True,
            state=state)()
    ran = []
    guarded(specs["order_monitor"], lambda: ran.append(1), is_leader=lambda: True,
            allowed=lambda s: True, state=state)()
    assert ran == [] and "401" in (state.paused or "")
    assert any(r.message.startswith("ALERT fatal error") for r in caplog.records)


def test_the_standby_never_trades(specs):
    ran = []
    guarded(specs["order_executor"], lambda: ran.append(1), is_leader=lambda: False,
            allowed=lambda s: True, state=JobState())()
    assert ran == []


# -- leader and standby ---------------------------------------------------------------------

def _daemon(db_params, exchange) -> Daemon:
    settings = load_settings(exchange_env(exchange), need_broker=True)
    broker = AlpacaBroker(settings, budget=RequestBudget(100_000))
    return Daemon(settings, db_params, broker, now=exchange.venue.clock.now, election_seconds=0.2,
                  heartbeat_seconds=0.2, fast_seconds=0.3)


def _wait(condition, seconds: float) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > seconds:
            raise AssertionError(f"not within {seconds}s")
        time.sleep(0.05)
    return time.monotonic() - start


def test_two_daemons_one_leader_and_the_standby_takes_over(db, db_params, exchange):
    first, second = _daemon(db_params, exchange), _daemon(db_params, exchange)
    threads = [threading.Thread(target=d.run, daemon=True) for d in (first, second)]
    threads[0].start()
    _wait(lambda: first.leadership.is_leader, 10)
    threads[1].start()
    _wait(lambda: second.scheduler.running, 10)
    _wait(lambda: first.state.ran >= 3, 20)
    assert first.leadership.is_leader and not second.leadership.is_leader
    assert second.state.ran == 0  # exactly one daemon runs jobs
    first.stop()  # the leader goes away: its lock connection closes
    took = _wait(lambda: second.leadership.is_leader, 60)
    _wait(lambda: second.state.ran >= 1, 20)
    second.stop()
    assert took < 60
    assert db.query("job_run", {"job_name": "order_executor"})


# -- alerts ---------------------------------------------------------------------------------

def test_an_alert_reaches_a_local_endpoint_once_per_interval(db):
    endpoint = JsonEndpoint()
    try:
        alerts = Alerts(db, [endpoint.url], min_interval=timedelta(minutes=15))
        assert alerts.send("unprotected", "trade #4 AAPL has no live stop") == "sent"
        assert alerts.send("unprotected", "trade #4 AAPL still has no stop") == "suppressed"
    finally:
        endpoint.close()
    received = endpoint.received
    assert len(received) == 1 and "trade #4 AAPL" in received[0]["message"]
    assert [r["delivery"] for r in db.query("alert")] == ["sent", "suppressed"]


def test_no_alert_is_sent_without_alert_urls(db):
    assert Alerts(db, [], min_interval=timedelta(0)).send("halt", "entries halted") == (
        "not_configured")


# -- start-up, notify and logs ------------------------------------------------------------

def test_the_daemon_refuses_to_start_on_an_old_schema(empty_db_params, exchange, monkeypatch,
                                                      capsys):
    from trading_monitor.daemon.main import main

    for key, value in exchange_env(exchange).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DATABASE_URL", f"postgresql://{empty_db_params['user']}@"
                       f"{empty_db_params['host']}:{empty_db_params['port']}/"
                       f"{empty_db_params['dbname']}")
    monkeypatch.chdir(__import__("tempfile").mkdtemp())
    assert main([]) == 1
    assert "run `trading-monitor migrate`" in capsys.readouterr().err


def test_systemd_hears_ready_and_watchdog(tmp_path, monkeypatch):
    import socket

    from trading_monitor.daemon.notify import sd_notify

    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(path)
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        assert sd_notify("READY=1") and sd_notify("WATCHDOG=1")
        assert [listener.recv(100), listener.recv(100)] == [b"READY=1", b"WATCHDOG=1"]
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert sd_notify("READY=1") is False


def test_json_logs_carry_the_run_id_and_never_a_secret(capsys):
    import logging

    from trading_monitor.daemon.logs import configure_logging
    from trading_monitor.ledger.runs import current_run_id

    configure_logging("INFO", "json", ["PKSECRETKEY123"])
    token = current_run_id.set("order_monitor-20261120T144500Z-abc123")
    try:
        logging.getLogger("trading_monitor.test").info("keys were PKSECRETKEY123 here")
    finally:
        current_run_id.reset(token)
        logging.getLogger().handlers.clear()
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["run_id"] == "order_monitor-20261120T144500Z-abc123"
    assert "PKSECRETKEY123" not in line["message"] and "***" in line["message"]


def test_a_standby_alerts_on_a_stale_leader_heartbeat(db, db_params, exchange, caplog):
    standby = _daemon(db_params, exchange)
    db.insert("daemon_heartbeat", {"host": "elsewhere", "pid": 1, "role": "leader",
                                   "started_at": exchange.venue.clock.now(),
                                   "beat_at": exchange.venue.clock.now() - timedelta(minutes=5)})
    db.execute_query("SELECT pg_advisory_lock(7301905117) AS ok")  # the leader holds the lock
    standby.elect()
    standby.close()
    assert not standby.leadership.is_leader
    assert any("ALERT the leader's heartbeat is stale" in r.message for r in caplog.records)


def test_the_close_run_and_a_late_flatten_still_count(specs):
    cal = _calendar()
    monday_close = NY.localize(datetime(2026, 11, 16, 16, 0, 0, 5000))  # 5 ms late
    assert cal.allows(specs["order_monitor"], monday_close)
    late = NY.localize(datetime(2026, 11, 16, 15, 53))  # the 15:50 flatten started 3 min late
    assert cal.allows(specs["eod_flatten"], late)
    assert not cal.allows(specs["eod_flatten"], NY.localize(datetime(2026, 11, 16, 16, 5)))
    assert not cal.allows(specs["eod_flatten"], NY.localize(datetime(2026, 11, 16, 12, 50)))


def test_a_leader_that_loses_its_lock_connection_takes_it_back_at_once(db, db_params, exchange):
    """A database restart drops the lock's connection: the next job finds it gone and asks for
    an election then, not an election interval (here 60 s) later; one stream listener only."""
    settings = load_settings(exchange_env(exchange), need_broker=True)
    broker = AlpacaBroker(settings, budget=RequestBudget(100_000))
    listeners: list = []

    class Listener:
        def __init__(self) -> None:
            self.running = False
            listeners.append(self)

        def start(self) -> Listener:
            self.running = True
            return self

        def stop(self) -> None:
            self.running = False

    def lock_holders() -> list[int]:  # of the leader lock only (the executor takes its own)
        return [r["pid"] for r in db.execute_query(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = %s AND objid = %s AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())",
            [LEADER_LOCK_KEY >> 32, LEADER_LOCK_KEY & 0xFFFFFFFF])]

    daemon = Daemon(settings, db_params, broker, now=exchange.venue.clock.now,
                    election_seconds=60, heartbeat_seconds=0.2, fast_seconds=0.3,
                    listener_factory=Listener)
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        _wait(lambda: daemon.leadership.is_leader and daemon.state.ran >= 1, 20)
        [old] = lock_holders()
        db.execute_query("SELECT pg_terminate_backend(%s) AS ok", [old])
        # the new lock connection holds the lock a moment before the daemon says it leads
        took = _wait(lambda: lock_holders() not in ([], [old])
                     and daemon.leadership.is_leader, 10)
        ran = daemon.state.ran
        _wait(lambda: daemon.state.ran > ran, 10)  # and it trades again
    finally:
        daemon.stop()
        thread.join(10)
    assert took < 10
    assert len(listeners) == 2 and not listeners[0].running  # the first one was stopped
