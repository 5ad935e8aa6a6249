"""R5 (the flatten part): `kill-switch --flatten` must not cancel a stop that covers more
shares than it sells.

After a 2-for-1 split the broker holds 20 shares and our stop covers 20, while our books
still say 10. The kill switch sizes its exit by what the broker holds: every share the
cancelled stop covered is sold, and a re-run finds nothing left.
"""

from __future__ import annotations

import os
from decimal import Decimal

import pytest

from tests.conftest import exchange_env
from tests.helpers import add_decision, entry, exchange_now, outcome
from trading_monitor.cli import kill_switch

D = Decimal
LIVE = {"new", "accepted", "held", "partially_filled", "pending_cancel"}


@pytest.fixture
def cli_env(monkeypatch, tmp_path, db_params, exchange):
    for key in list(os.environ):
        if key.startswith(("ALPACA_", "POSTGRES_", "TEST_POSTGRES", "TEST_DATABASE",
                           "DATABASE_")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no stray .env
    for key, value in exchange_env(exchange, PROTECTION_MODE="staged").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DATABASE_URL", f"postgresql://{db_params['user']}@{db_params['host']}"
                                       f":{db_params['port']}/{db_params['dbname']}")
    return monkeypatch


def _held(exchange):
    return {p["symbol"]: D(p["qty"]) for p in exchange.control.state()["positions"]}


def _live(exchange):
    return [(o["order_type"], o["qty"]) for o in exchange.control.orders()
            if o["symbol"] == "AAPL" and o["status"] in LIVE]


def test_the_kill_switch_sells_every_share_the_cancelled_stop_covered(
        cli_env, db, jobs, exchange, capsys):
    jobs = jobs.with_settings(PROTECTION_MODE="staged")
    d = add_decision(db, entry(trade_style="DAYTRADE", entry_price="181.00",
                               stop_loss="175.00", take_profit=None))
    jobs.executor()
    jobs.order_monitor()  # 10 AAPL, a plain stop for 10
    exchange.control.corporate_action("forward_split", "AAPL", old_rate=1, new_rate=2,
                                      apply="now")
    assert _held(exchange) == {"AAPL": D(20)} and _live(exchange) == [("stop", "20")]
    kill_switch.main(["--flatten", "--reason", "split drill"], now=exchange_now)
    out = capsys.readouterr().out
    assert _held(exchange) == {}, out  # nothing left without a stop
    assert _live(exchange) == [], out
    sells = [o["qty"] for o in exchange.control.orders() if o["order_type"] == "market"]
    assert sells == ["20"], out
    journal = db.get_by_id("trade_journal", outcome(db, d)["trade_journal_id"])
    assert (journal["status"], journal["exit_reason_code"]) == ("CLOSED", "KILL_SWITCH")


def test_the_kill_switch_sells_what_the_broker_holds_not_our_books(
        cli_env, db, jobs, broker, exchange, capsys):
    from trading_monitor.broker.models import OrderRequest

    jobs = jobs.with_settings()  # a bracket
    d = add_decision(db, entry(entry_price="181.00", stop_loss="175.00", take_profit="195.00"))
    jobs.executor()
    jobs.order_monitor()
    broker.submit_order(OrderRequest(client_order_id="by-hand-5", symbol="AAPL", side="buy",
                                     qty=D(5), order_type="market", time_in_force="day"))
    exchange.control.advance(120)  # the broker's positions show the 15 by now
    assert kill_switch.main(["--flatten", "--reason", "drill"], now=exchange_now) == 0
    out = capsys.readouterr().out
    assert _held(exchange) == {} and _live(exchange) == [], out
    journal = db.get_by_id("trade_journal", outcome(db, d)["trade_journal_id"])
    assert (journal["status"], journal["exit_reason_code"]) == ("CLOSED", "KILL_SWITCH")


def test_a_refused_kill_switch_exit_puts_the_stop_back(cli_env, db, jobs, exchange, capsys):
    jobs = jobs.with_settings(PROTECTION_MODE="staged")
    add_decision(db, entry(trade_style="DAYTRADE", entry_price="181.00", stop_loss="175.00",
                           take_profit=None))
    jobs.executor()
    jobs.order_monitor()
    exchange.control.set_fault("POST /v2/orders", "http_status", status=403, code=40310000,
                               message="forbidden", count=1)
    assert kill_switch.main(["--flatten", "--reason", "drill"], now=exchange_now) == 3
    out = capsys.readouterr().out
    assert _held(exchange) == {"AAPL": D(10)}, out
    assert _live(exchange) == [("stop", "10")], out  # protected again at once
