"""The pre-open run in the daemon: scheduled at 09:00 New York on trading days, and run at
daemon start (the new leader's first reconciliation), where it applies a split."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytz

from tests.conftest import exchange_env
from tests.integration.test_daemon import _calendar, _runs
from tests.integration.test_market_events_splits import (
    MONDAY_PRE_OPEN,
    books,
    enter_and_trail,
    live_exits,
)
from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.transport import RequestBudget
from trading_monitor.daemon.app import Daemon
from trading_monitor.daemon.schedule import job_specs
from trading_monitor.settings.config import load_settings

D = Decimal
NY = pytz.timezone("America/New_York")


def test_the_pre_open_run_is_scheduled_at_nine_on_trading_days():
    spec = {s.job_id: s for s in job_specs(load_settings({}))}["position_monitor_pre_open"]
    mon = NY.localize(datetime(2026, 11, 23, 0, 0))  # Thanksgiving week
    runs = _runs(spec, _calendar(), mon, mon + timedelta(days=7))
    assert [t.strftime("%a %H:%M") for t in runs] == [
        "Mon 09:00", "Tue 09:00", "Wed 09:00", "Fri 09:00"]
    assert runs[0].date() == date(2026, 11, 23)


def test_daemon_start_applies_a_split_before_the_open(db, db_params, broker, settings, exchange):
    jid = enter_and_trail(db, db_params, broker, settings, exchange, "AAPL", "180.00", 10,
                          "170.00", "220.00", "195.00")
    exchange.control.corporate_action("forward_split", "AAPL", old_rate=1, new_rate=2,
                                      ex_date="2026-11-23")
    exchange.control.set_clock(MONDAY_PRE_OPEN)
    settings = load_settings(exchange_env(exchange), need_broker=True)
    daemon = Daemon(settings, db_params, AlpacaBroker(settings, budget=RequestBudget(100_000)),
                    now=exchange.venue.clock.now, election_seconds=60, heartbeat_seconds=60)
    try:
        daemon.elect()  # the leader's start-up run is the pre-open run
        assert daemon.leadership.is_leader
    finally:
        daemon.close()
    assert books(db, jid)["qty"] == D(20) and books(db, jid)["stop"] == D("90.00")
    assert live_exits(exchange, "AAPL") == {"stop": (D(20), D(90)), "limit": (D(20), D(110))}
    runs = db.query("job_run", {"job_name": "position_monitor"})
    assert any((r["summary"] or {}).get("pre_open") for r in runs)
