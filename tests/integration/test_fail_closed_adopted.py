"""After `reconcile --adopt-account` (issue 27): the old account's open trades are held there,
managed by no job. On the paper exchange serving two accounts: the second one holds the
trader's own AAPL shares, the symbol of one of our trades written against the first. Adopting
it is refused while our trades are open there, unless `--leave-open-trades` says so; then
the executor, the order monitor and the position monitor (one by one, and through the
Daemon) send no order and book nothing for the old trades, the trader's shares stay his, and
`status`, `health` (WARNING) and `check` show the trades held at the other account. Adopting
the first account again makes them managed again.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from tests.conftest import exchange_env
from tests.helpers import add_decision, entry, outcome
from tests.integration.test_fail_closed_account import OTHER, _checks, _positions, _switch
from tests.integration.test_fail_closed_incident import cli_env  # noqa: F401 (a fixture)
from trading_monitor.broker.models import OrderRequest
from trading_monitor.cli import flatten as flatten_cmd
from trading_monitor.cli import reconcile as reconcile_cmd
from trading_monitor.cli.status import gather
from trading_monitor.daemon.app import Daemon
from trading_monitor.engine.account_guard import recorded_account
from trading_monitor.invariants.model import VIOLATION, WARNING
from trading_monitor.invariants.run import run_check
from trading_monitor.position_monitor.incident import open_incident
from trading_monitor.report import write_report
from trading_monitor.settings.config import load_settings
from trading_monitor.web import data as web_data
from trading_monitor.web import page

D = Decimal
TRADER = "trader-own-aapl"  # the trader's own order in the second account


@pytest.fixture
def settings(exchange):
    # The trader's shares in the adopted account are untracked there: reconciliation records
    # them as EXTERNAL and, with `alert`, leaves them alone (docs/position-monitor.md).
    return load_settings(exchange_env(exchange, RECONCILE_GRACE_SECONDS="60",
                                      EXTERNAL_POSITION_PROTECTION="alert"), need_broker=True)


def _trades(db, ids):
    return {j: {k: db.get_by_id("trade_journal", j)[k] for k in (
        "status", "actual_qty", "exit_price", "exit_date", "actual_pnl", "broker_account_id")}
            for j in ids}


def _fills(db, ids):
    return db.execute_query("SELECT count(*) AS n FROM fills WHERE trade_journal_id = ANY(%s)",
                            [ids])[0]["n"]


def _adopted(db, jobs, db_params, broker, settings, exchange, capsys):
    """Two trades (AAPL, MSFT) in the books' account; the target of AAPL reached and its exit
    approved (as NocoDB's tick); the keys switched to a second account where the trader buys
    10 AAPL by hand; that account adopted with --leave-open-trades."""
    ids = _positions(db, jobs)
    books = recorded_account(db)
    db.execute_update("UPDATE position_tracking SET exit_approved = true "
                      "WHERE trade_journal_id = %s", [ids[0]])
    other = _switch(exchange, OTHER)
    exchange.control.set_price("AAPL", "181.00")
    other.submit_order(OrderRequest(client_order_id=TRADER, symbol="AAPL", side="buy",
                                    qty=D(10), order_type="market", time_in_force="day"))
    exchange.control.advance(1)
    capsys.readouterr()
    assert reconcile_cmd.main(["--adopt-account", OTHER, "--reason", "paper #2"]) == 4
    refused = capsys.readouterr().out
    assert recorded_account(db) == books and "--leave-open-trades" in refused
    assert all(f"trade #{j}" in refused for j in ids)
    assert reconcile_cmd.main(["--adopt-account", OTHER, "--leave-open-trades",
                               "--reason", "paper #2, the old trades stay"]) == 0
    assert recorded_account(db) == OTHER
    held = db.query("event_log", {"event": "held_elsewhere"})
    assert sorted(e["entity_id"] for e in held) == sorted(ids)
    assert all(e["from_status"] == books and e["to_status"] == OTHER
               and f"held at account {books}, not managed" in e["message"]
               and "the old trades stay" in e["message"] for e in held)
    return ids, books, other


def _nothing_touched(db, exchange, other, ids, before, fills):
    assert [o["client_order_id"] for o in exchange.control.orders()] == [TRADER]
    assert _trades(db, ids) == before  # nothing booked: open, as they were
    assert _fills(db, ids) == fills
    assert open_incident(db) is None
    assert {p.symbol: p.qty for p in other.get_positions()} == {"AAPL": D(10)}
    adopted = [t for t in db.query("trade_journal") if t["id"] not in ids]
    assert [(t["symbol"], t["origin"], t["broker_account_id"]) for t in adopted] == [
        ("AAPL", "EXTERNAL", OTHER)]  # the new account's own, recorded there


def test_usage(cli_env):  # noqa: F811
    with pytest.raises(SystemExit) as usage:
        reconcile_cmd.main(["--leave-open-trades", "--reason", "x"])
    assert usage.value.code == 2


def test_the_old_accounts_trades_are_held_there_and_no_job_touches_them(
        db, jobs, db_params, broker, settings, exchange, cli_env, capsys, tmp_path):  # noqa: F811
    ids, books, other = _adopted(db, jobs, db_params, broker, settings, exchange, capsys)
    before, fills = _trades(db, ids), _fills(db, ids)
    assert {t["broker_account_id"] for t in before.values()} == {books}
    # A CANCEL naming an old trade is refused, not sent to this account.
    d = add_decision(db, {"primary_action": "CANCEL", "ticker": "AAPL"},
                     existing_trade_journal_id=ids[0])
    for price in ("200.00", "150.00", "200.00"):  # past the target, through the stop
        exchange.control.set_prices({"AAPL": price, "MSFT": "445.00"})
        jobs.with_broker(other).executor()
        jobs.with_broker(other).order_monitor()
        jobs.with_broker(other).position_monitor()
        exchange.control.advance(61)  # past the reconciliation grace
    assert outcome(db, d)["terminal_state"] in ("REJECTED", "FAILED")
    assert f"written against broker account {books}" in outcome(db, d)["reason"]
    capsys.readouterr()  # `trading-monitor flatten` (and the cockpit's button) refuse too
    assert flatten_cmd.main([str(ids[0]), "--reason", "sell it"]) == 4
    assert f"written against broker account {books}" in capsys.readouterr().out
    _nothing_touched(db, exchange, other, ids, before, fills)
    # reconcile (alone), status, the cockpit, the report, health and check show them
    capsys.readouterr()
    assert reconcile_cmd.main([]) == 0
    shown_text = capsys.readouterr().out
    assert all(f"trade #{j} " in shown_text and books in shown_text for j in ids), shown_text
    shown = gather(db, settings, exchange.venue.clock.now())["broker_account"]
    assert sorted(t["id"] for t in shown["held_elsewhere"]) == sorted(ids)
    html = page.render(web_data.gather(db, settings, exchange.venue.clock.now()),
                       can_act=False, token_set=False, csrf="")
    assert all(f"id='held-elsewhere-{j}'" in html for j in ids)
    files = write_report(db, exchange.venue.clock.now().date(), tmp_path)
    text = files.markdown.read_text()
    assert all(f"**Held at another broker account, not managed**: trade #{j}" in text
               for j in ids), text
    checks = _checks(db_params, settings, exchange.venue.clock.now(), broker=True)
    state, message = checks["account"]
    assert state == "WARNING" and all(f"trade #{j}" in message for j in ids), message
    # not unprotected positions of this account (the trader's AAPL is here, no stop of ours)
    assert all(f"trade #{j} " not in checks["protection"][1] for j in ids), checks["protection"]
    report = run_check(db_params, other, settings, now=exchange.venue.clock.now)
    mine = [f for f in report.findings if f.trade_id in ids]
    assert sorted(f.trade_id for f in mine) == sorted(ids)
    assert {(f.invariant, f.severity) for f in mine} == {("live_stop", WARNING)}
    # (the trader's own AAPL, alert only, is the new account's unprotected EXTERNAL trade)
    assert {f.trade_id for f in report.findings if f.severity == VIOLATION} <= {None, 3}
    # The trader closes MSFT by hand in the first account, then tells the books.
    _switch(exchange, books)
    exchange.control.close_position_manually("MSFT")
    exchange.control.advance(1)
    other = _switch(exchange, OTHER)
    assert reconcile_cmd.main(["--accept-gone", str(ids[1]), "--reason",
                               "sold by hand at account #1"]) == 0
    msft = db.get_by_id("trade_journal", ids[1])
    assert (msft["status"], msft["exit_reason_code"], msft["exit_estimated"]) == (
        "CLOSED", "EXTERNAL", True)
    assert [t["id"] for t in gather(db, settings, exchange.venue.clock.now())[
        "broker_account"]["held_elsewhere"]] == [ids[0]]
    report = run_check(db_params, other, settings, now=exchange.venue.clock.now)
    assert {f.trade_id for f in report.findings if f.severity == VIOLATION} <= {None, 3}, [
        f for f in report.findings if f.trade_id == ids[1]]
    assert [o["client_order_id"] for o in exchange.control.orders()] == [TRADER]
    # The first account adopted again: AAPL is managed again (its keys back).
    back = _switch(exchange, books)
    capsys.readouterr()
    assert reconcile_cmd.main(["--adopt-account", books, "--reason", "back to #1"]) == 4
    assert "trade #3 AAPL" in capsys.readouterr().out  # the second account's own, open
    assert reconcile_cmd.main(["--adopt-account", books, "--leave-open-trades",
                               "--reason", "back to #1"]) == 0
    assert [e["entity_id"] for e in db.query("event_log", {"event": "managed_again"})
            ] == [ids[0]]
    state, message = _checks(db_params, settings, exchange.venue.clock.now())["account"]
    assert state == "WARNING" and "trade #3 AAPL at " + OTHER in message
    exchange.control.set_prices({"AAPL": "200.00", "MSFT": "421.00"})
    jobs.with_broker(back).order_monitor()
    jobs.with_broker(back).position_monitor()
    exchange.control.advance(5)
    jobs.with_broker(back).order_monitor()  # the approved exit of AAPL goes out, in account 1
    assert db.get_by_id("trade_journal", ids[0])["status"] == "CLOSED"


def _wait(condition, seconds: float) -> None:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > seconds:
            raise AssertionError(f"not within {seconds}s")
        time.sleep(0.1)


def test_the_daemon_leaves_the_old_accounts_trades_alone(
        db, jobs, db_params, broker, settings, exchange, cli_env, capsys):  # noqa: F811
    ids, books, other = _adopted(db, jobs, db_params, broker, settings, exchange, capsys)
    before, fills = _trades(db, ids), _fills(db, ids)
    exchange.control.set_prices({"AAPL": "200.00", "MSFT": "400.00"})  # target; MSFT's stop
    daemon = Daemon(settings, db_params, other, now=lambda: exchange.venue.clock.now(),
                    election_seconds=0.2, heartbeat_seconds=0.2, fast_seconds=0.3)
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        _wait(lambda: daemon.state.ran >= 6, 30)
        exchange.control.advance(61)
        ran = daemon.state.ran
        _wait(lambda: daemon.state.ran >= ran + 6, 30)
        assert daemon.state.paused is None  # the adopted account is the books'
    finally:
        daemon.stop()
        thread.join(timeout=30)
    _nothing_touched(db, exchange, other, ids, before, fills)


def test_the_end_of_day_flatten_leaves_an_old_accounts_day_trade_alone(
        db, jobs, exchange, cli_env, capsys):  # noqa: F811
    """A DAYTRADE in AAPL written against the first account, held there after the second is
    adopted (where the trader holds 10 AAPL): 15:50 New York sends nothing in the second."""
    d = add_decision(db, entry(trade_style="DAYTRADE", entry_price="181.00",
                               stop_loss="175.00", take_profit="195.00"))
    jobs.executor()
    jid = int(outcome(db, d)["trade_journal_id"])
    jobs.order_monitor()
    assert db.get_by_id("trade_journal", jid)["status"] == "POSITION"
    other = _switch(exchange, OTHER)
    other.submit_order(OrderRequest(client_order_id=TRADER, symbol="AAPL", side="buy",
                                    qty=D(10), order_type="market", time_in_force="day"))
    exchange.control.advance(1)
    assert reconcile_cmd.main(["--adopt-account", OTHER, "--leave-open-trades",
                               "--reason", "paper #2"]) == 0
    before, fills = _trades(db, [jid]), _fills(db, [jid])
    exchange.control.set_clock(datetime(2026, 11, 20, 20, 50, tzinfo=timezone.utc))  # 15:50
    for _ in range(2):
        jobs.with_broker(other).order_monitor()
        jobs.with_broker(other).position_monitor()
        exchange.control.advance(120)
    _nothing_touched(db, exchange, other, [jid], before, fills)
