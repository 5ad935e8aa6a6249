"""Exits that do not fill (issue 21): an end-of-day exit that rests in a halt and whose
withdrawal the broker refuses is reported by the flatten when it finishes, shows as "exit
working since …" in `status` and the report, and raises one ALERT once it has worked for
EXIT_WORKING_ALERT_SECONDS."""

from __future__ import annotations

import logging
import os
from datetime import date, datetime, timezone

from tests.conftest import exchange_env
from tests.helpers import add_decision, entry, exchange_now, outcome
from trading_monitor.cli import kill_switch, status
from trading_monitor.domain.lifecycle import OrderRole, owned_client_order_id
from trading_monitor.ledger.installation import installation_id
from trading_monitor.report import data, figures, markdown

FRIDAY_FLATTEN = datetime(2026, 11, 20, 20, 50, tzinfo=timezone.utc)  # 15:50 New York


def test_an_exit_that_does_not_fill_is_reported_shown_and_alerted(db, jobs,
                                                                   exchange, caplog):
    jobs = jobs.with_settings(PROTECTION_MODE="staged")
    d = add_decision(db, entry(trade_style="DAYTRADE", take_profit=None, entry_price="181.00",
                               stop_loss="175.00"))
    jobs.executor()
    exchange.control.advance(1)
    jobs.order_monitor()  # 10 AAPL and a plain stop
    jid = int(outcome(db, d)["trade_journal_id"])
    exit_id = owned_client_order_id(installation_id(db), f"d{d}", OrderRole.EXIT)
    exchange.control.set_cancel_behavior("refuse", client_order_id=exit_id)
    exchange.control.halt("AAPL")  # nothing prints: the market exit rests
    exchange.control.set_clock(FRIDAY_FLATTEN)
    report = jobs.order_monitor()
    unfilled = [a for a in report.actions if a.startswith("exit not filled:")]
    assert len(unfilled) == 1 and f"trade #{jid} AAPL: exit {exit_id}" in unfilled[0], \
        report.actions
    assert status.gather(db, jobs.settings, FRIDAY_FLATTEN)["exits_working"] == []  # not yet 2 min
    exchange.control.advance(150)
    with caplog.at_level(logging.ERROR):
        jobs.position_monitor()
        jobs.position_monitor()  # one ALERT per exit
    alerts = [r.getMessage() for r in caplog.records
              if getattr(r, "alert_kind", None) == "exit_working"]
    assert len(alerts) == 1 and exit_id in alerts[0] and "working since" in alerts[0]
    (shown,) = status.gather(db, jobs.settings, exchange.venue.clock.now())["exits_working"]
    assert f"exit {exit_id}" in shown and "working since 2026-11-20T20:50" in shown
    text = markdown.render(figures.compute(data.load(db, date(2026, 11, 20))))
    assert f"**Exit not filled**: trade #{jid} AAPL: exit {exit_id}" in text


def test_the_kill_switch_reports_an_exit_not_filled_when_it_finishes(
        db, jobs, db_params, exchange, monkeypatch, tmp_path, capsys):
    for key in list(os.environ):
        if key.startswith(("ALPACA_", "POSTGRES_", "TEST_POSTGRES", "TEST_DATABASE",
                           "DATABASE_")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    env = exchange_env(exchange, PROTECTION_MODE="staged")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DATABASE_URL", f"postgresql://{db_params['user']}@{db_params['host']}"
                                       f":{db_params['port']}/{db_params['dbname']}")
    jobs = jobs.with_settings(PROTECTION_MODE="staged")  # the settings of `env`
    d = add_decision(db, entry(trade_style="DAYTRADE", take_profit=None, entry_price="181.00",
                               stop_loss="175.00"))
    jobs.executor()
    exchange.control.advance(1)
    jobs.order_monitor()
    exit_id = owned_client_order_id(installation_id(db), f"d{d}", OrderRole.EXIT)
    exchange.control.set_cancel_behavior("refuse", client_order_id=exit_id)
    exchange.control.halt("AAPL")
    code = kill_switch.main(["--flatten", "--reason", "drill"], now=exchange_now)
    out = capsys.readouterr().out
    assert code != 0, out
    assert f"PROBLEM exit not filled: trade #{outcome(db, d)['trade_journal_id']} AAPL: exit " \
           f"{exit_id}" in out, out


def test_a_refused_exit_puts_the_stop_back_at_once(db, jobs, exchange):
    jobs = jobs.with_settings(PROTECTION_MODE="staged")
    d = add_decision(db, entry(trade_style="DAYTRADE", take_profit=None, entry_price="181.00",
                               stop_loss="175.00"))
    jobs.executor()
    exchange.control.advance(1)
    jobs.order_monitor()
    exchange.control.set_clock(FRIDAY_FLATTEN)
    exchange.control.set_fault("POST /v2/orders", "http_status", status=403, code=40310000,
                               message="insufficient qty available for order", count=1)
    report = jobs.order_monitor()  # the flatten's exit is refused
    assert any("the market exit of 10 was not accepted" in a for a in report.actions), \
        report.actions
    assert not [a for a in report.actions if a.startswith("exit not filled:")]
    live = [o for o in exchange.control.orders() if o["symbol"] == "AAPL"
            and o["type"] == "stop" and o["status"] in ("new", "held")]
    assert [(o["qty"], o["stop_price"], o["time_in_force"]) for o in live] == [
        ("10", "175", "gtc")]
    jid = int(outcome(db, d)["trade_journal_id"])
    assert db.get_by_id("trade_journal", jid)["status"] == "POSITION"
