"""Per-event messages (issue 25): real jobs on the paper exchange write their rows, the
event_log trigger queues each message in notify_outbox, the sender writes each into one line
from the books and sends it through apprise to a local json:// endpoint. A failing endpoint
fails no job; retries are bounded and every attempt is recorded."""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal

import pytest

from tests.cockpit_endpoints import Endpoint
from tests.conftest import exchange_env
from tests.helpers import add_decision, entry, exchange_now, outcome
from tests.support.jobs import Jobs
from trading_monitor.cli import health, kill_switch, operator
from trading_monitor.clock import system_clock
from trading_monitor.cockpit.health import messages_failed
from trading_monitor.cockpit.outbox import Outbox
from trading_monitor.settings.config import load_settings
from trading_monitor.web import sections
from trading_monitor.web.metrics import Process, registry, render

D = Decimal


@pytest.fixture
def endpoint():
    e = Endpoint()
    yield e
    e.close()


BASE = {"PROTECTION_MODE": "staged", "MAX_DAILY_LOSS": "off"}


def _settings(exchange, **env):
    return load_settings(exchange_env(exchange, **{**BASE, **env}), need_broker=True)


def _jobs(jobs: Jobs, **env: str) -> Jobs:
    """The jobs on `_settings`' environment, with a broker built on it."""
    return jobs.with_settings(**{**BASE, **env})


@pytest.fixture
def cli_env(monkeypatch, tmp_path, db_params, exchange):
    """The commands' environment (kill switch, resume): the test database and exchange."""
    for key in list(os.environ):
        if key.startswith(("ALPACA", "POSTGRES", "DATABASE", "NOTIFY", "HEARTBEAT")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    for key, value in exchange_env(exchange).items():
        monkeypatch.setenv(key, value)
    p = db_params
    monkeypatch.setenv("DATABASE_URL", f"postgresql://{p['user']}@{p['host']}:{p['port']}/"
                                       f"{p['dbname']}")
    return monkeypatch


def _outbox(db):
    return db.execute_query("SELECT o.kind, o.status, o.attempts, e.event FROM notify_outbox o "
                            "JOIN event_log e ON e.id = o.event_log_id ORDER BY o.id")


def test_each_event_of_a_trade_is_one_line_from_the_books(db, db_params, broker, jobs, exchange,
                                                          endpoint, cli_env):
    jobs = _jobs(jobs, NOTIFY_URLS=endpoint.json_url, MAX_DRAWDOWN_PCT="0.01")
    settings = jobs.settings
    too_big = add_decision(db, entry("MSFT", entry_price="419.00", stop_loss="410.00",
                                     take_profit="440.00", quantity=1000))
    bought = add_decision(db, entry("AAPL", entry_price="181.00", stop_loss="175.00",
                                    take_profit="260.00"))
    jobs.executor()
    assert outcome(db, too_big)["terminal_state"] == "REJECTED"
    exchange.control.advance(2)  # the entry filled when sent; its stop goes out 2 s later
    jobs.order_monitor()
    jid = int(outcome(db, bought)["trade_journal_id"])
    exchange.control.set_price("AAPL", "195.00")  # +8.3 %: the stop climbs to break-even
    jobs.position_monitor()
    exchange.control.set_price("AAPL", "178.00")  # the stop at 180 fills
    exchange.control.advance(1)
    jobs.order_monitor()
    jobs.position_monitor()  # the loss: equity is 0.01 % below its peak
    assert kill_switch.main(["--reason", "FOMC surprise"], now=exchange_now) == 0
    assert operator.resume(["--reason", "all clear"], now=exchange_now) == 0

    report = Outbox(db_params, settings).send_due()
    assert report.counts == {"sent": 9}
    trade = db.get_by_id("trade_journal", jid)
    assert (trade["status"], trade["exit_reason_code"]) == ("CLOSED", "STOPPED_OUT")
    pnl, waited = trade["actual_pnl"], trade["unprotected_seconds"]
    assert waited == D("2.000")
    r = (D(pnl) / 10 / (trade["actual_entry_price"] - D("175.00"))).quantize(D("0.01"))
    assert endpoint.messages() == [
        f"REJECTED decision #{too_big} MSFT NEW_TRADE: {outcome(db, too_big)['reason']}",
        f"ENTRY FILLED AAPL: bought 10 @ 180.00 (trade #{jid}); stop 175.00 accepted "
        f"{waited:.1f} s after the first fill",
        f"STOP MOVED AAPL: stop raised to 180.00 (trail step 1, trade #{jid}); at this stop "
        "10 shares from 180.00 make +0.00",
        f"EXIT FILLED AAPL: sold 10 @ {trade['exit_price']:.2f} (STOPPED_OUT, trade #{jid}): "
        f"P&L {pnl:+,.2f}, {r:+} R",
    ] + endpoint.messages()[4:]
    halt, kill_on, kill_acted, kill_off, halt_cleared = endpoint.messages()[4:]
    assert halt.startswith("HALT SET halt_drawdown: equity ") and "below its peak" in halt
    assert kill_on.startswith("KILL SWITCH ON: by ") and kill_on.endswith(": FOMC surprise")
    assert kill_acted.startswith("KILL SWITCH ACTED: by ") and kill_acted.endswith(
        ": FOMC surprise: 0 entr(ies) cancelled")
    assert kill_off.startswith("KILL SWITCH OFF: resumed by ") and "all clear" in kill_off
    assert halt_cleared.startswith("HALT CLEARED halt_drawdown: resumed by ")
    assert [(r["kind"], r["status"], r["attempts"]) for r in _outbox(db)][-1][1:] == ("sent", 1)
    assert len(db.query("notify_delivery", {"status": "sent"})) == 9


def test_a_failing_endpoint_fails_no_job_and_retries_are_bounded(db, db_params, broker,
                                                                  jobs, exchange):
    failing = Endpoint(status=500)
    try:
        jobs = _jobs(jobs, NOTIFY_URLS=failing.json_url, NOTIFY_MAX_ATTEMPTS="3")
        settings = jobs.settings
        d = add_decision(db, entry("MSFT", entry_price="419.00", stop_loss="410.00",
                                   take_profit="440.00", quantity=1000))
        jobs.executor()
        assert outcome(db, d)["terminal_state"] == "REJECTED"  # the job did its work
        later = [timedelta(0)]
        outbox = Outbox(db_params, settings, now=lambda: system_clock() + later[0])
        assert outbox.send_due().counts == {"retrying": 1}
        assert outbox.send_due().counts == {}  # not due again for 30 s
        later[0] = timedelta(seconds=31)
        assert outbox.send_due().counts == {"retrying": 1}
        later[0] = timedelta(seconds=31 + 61)
        assert outbox.send_due().counts == {"failed": 1}
        later[0] = timedelta(hours=1)
        assert outbox.send_due().counts == {}  # given up: bounded
    finally:
        failing.close()
    assert len(failing.received) == 3
    [row] = db.query("notify_outbox")
    assert (row["status"], row["attempts"]) == ("failed", 3)
    assert row["body"].startswith(f"REJECTED decision #{d} MSFT NEW_TRADE: ")
    deliveries = db.query("notify_delivery", {"outbox_id": row["id"]})
    assert [(x["attempt"], x["status"]) for x in deliveries] == [
        (1, "failed"), (2, "failed"), (3, "failed")]
    assert all(x["error"] == "apprise reported the message as not sent" for x in deliveries)
    # Given up on: the cockpit page says so, and /metrics counts it (an alert rule fires).
    why = "apprise reported the message as not sent"
    assert messages_failed(db, system_clock()) == (1, why)
    note = sections.alerts([], messages_failed(db, system_clock()))
    assert "1 per-event message(s) to NOTIFY_URLS failed for good" in note and why in note
    text = render(registry(db_params, settings, Process())).decode()
    assert "trading_monitor_messages_failed_24h 1.0" in text
    assert failing.json_url not in text and failing.json_url not in note
    [check] = [c for c in health.run_checks(db_params, settings, system_clock(), broker=False)
               if c.name == "messages"]
    assert (check.state, check.detail) == ("WARNING", {"failed": 1})
    assert check.message == ("1 per-event message(s) to NOTIFY_URLS failed for good in the "
                             f"last 24 h ({why})")


def test_an_unreachable_endpoint_is_a_failed_attempt_then_a_delivery(db, db_params, broker,
                                                                     jobs, exchange):
    back = Endpoint()
    port = back.port
    back.close()  # nothing listens there now
    jobs = _jobs(jobs, NOTIFY_URLS=f"json://127.0.0.1:{port}/?cto=1&rto=1")
    settings = jobs.settings
    add_decision(db, entry("MSFT", entry_price="419.00", stop_loss="410.00",
                           take_profit="440.00", quantity=1000))
    jobs.executor()
    later = [timedelta(0)]
    outbox = Outbox(db_params, settings, now=lambda: system_clock() + later[0])
    assert outbox.send_due().counts == {"retrying": 1}
    [row] = db.query("notify_outbox")
    assert row["status"] == "pending" and row["last_error"]


def test_a_kind_switched_off_and_no_urls_are_recorded_not_sent(db, db_params, broker,
                                                                jobs, exchange, endpoint):
    jobs = _jobs(jobs, NOTIFY_URLS=endpoint.json_url, NOTIFY_DECISION_REJECTED="false")
    settings = jobs.settings
    add_decision(db, entry("MSFT", entry_price="419.00", stop_loss="410.00",
                           take_profit="440.00", quantity=1000))
    jobs.executor()
    assert Outbox(db_params, settings).send_due().counts == {"off": 1}
    add_decision(db, entry("MSFT", entry_price="419.00", stop_loss="410.00",
                           take_profit="440.00", quantity=2000))
    jobs.executor()
    assert Outbox(db_params, _settings(exchange)).send_due().counts == {"not_configured": 1}
    assert endpoint.received == []
    assert [r["status"] for r in db.query("notify_outbox")] == ["off", "not_configured"]


def test_a_broken_outbox_never_fails_the_job_that_writes_the_event(db, db_params, broker,
                                                                    jobs, exchange):
    jobs = _jobs(jobs)
    db.execute_update("ALTER TABLE notify_outbox RENAME TO notify_outbox_away")
    try:
        d = add_decision(db, entry("MSFT", entry_price="419.00", stop_loss="410.00",
                                   take_profit="440.00", quantity=1000))
        jobs.executor()
        assert outcome(db, d)["terminal_state"] == "REJECTED"
        assert db.query("event_log", {"entity": "analysis_decision", "event": "terminal"})
    finally:
        db.execute_update("ALTER TABLE notify_outbox_away RENAME TO notify_outbox")


def test_an_adopted_position_is_not_called_an_entry(db, db_params, broker, jobs, exchange,
                                                    endpoint):
    from trading_monitor.broker.models import OrderRequest

    jobs = _jobs(jobs, NOTIFY_URLS=endpoint.json_url, RECONCILE_GRACE_SECONDS="60")
    settings = jobs.settings
    broker.submit_order(OrderRequest(client_order_id="by-hand-1", symbol="NVDA", side="buy",
                                     qty=D(5), order_type="market", time_in_force="day"))
    exchange.control.advance(1)
    jobs.position_monitor()
    exchange.control.advance(61)
    jobs.position_monitor()  # adopted, and its emergency stop placed
    jobs.order_monitor()
    [journal] = db.query("trade_journal", {"origin": "EXTERNAL"})
    Outbox(db_params, settings).send_due()
    assert endpoint.messages() == [
        f"UNTRACKED POSITION ADOPTED NVDA: 5 @ 130.00 (trade #{journal['id']}); stop 123.50 "
        f"accepted {journal['unprotected_seconds']:.1f} s after it was adopted"]
