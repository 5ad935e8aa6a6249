"""R15: Alpaca's FEE activities are booked onto the fills and trades they cost, so P&L "net of
fees" is net: by order id, by symbol and day pro rata, or shown unallocated; a cancelled or
corrected fee is reversed or re-booked, whichever way the exchange posts the change."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import pytz

from tests.conftest import exchange_env
from tests.helpers import add_decision, entry, outcome
from tests.support.jobs import Jobs
from trading_monitor.cli import book
from trading_monitor.engine.fees import book_fees
from trading_monitor.invariants import run_check
from trading_monitor.invariants.model import VIOLATION
from trading_monitor.ledger import Ledger
from trading_monitor.report import write_report
from trading_monitor.settings.config import load_settings

D = Decimal
NY = pytz.timezone("America/New_York")


@pytest.fixture
def settings(exchange):
    return load_settings(exchange_env(exchange, BLOCK_DUPLICATE_ENTRY="false",
                                      MAX_DAILY_LOSS="off"), need_broker=True)


def _closed_aapl(db, jobs: Jobs, exchange) -> dict[str, Any]:
    """10 AAPL bought at 180 and sold at its take profit, 190."""
    trade_id = jobs.position(db, stop_loss="170.00", take_profit="190.00")
    exchange.control.set_price("AAPL", "190.00")
    jobs.order_monitor()
    trade = db.get_by_id("trade_journal", trade_id)
    assert trade["status"] == "CLOSED"
    [exit_fill] = [f for f in db.query("fills", {"trade_journal_id": trade_id})
                   if f["side"] == "sell"]
    return {"id": trade_id, "pnl": trade["actual_pnl"], "exit": exit_fill}


def _fee(exchange, amount: str, symbol: str, order_id: str | None = None) -> str:
    body = {"activity_type": "FEE", "amount": amount, "symbol": symbol}
    if order_id:
        body["order_id"] = order_id
    return str(exchange.control._call("POST", "/control/cash_activity", body)["id"])


def _fix(exchange, activity_id: str, status: str, how: str, amount: str | None = None) -> None:
    body = {"activity_id": activity_id, "status": status, "how": how}
    if amount:
        body["amount"] = amount
    exchange.control._call("POST", "/control/fee_fix", body)


def _book_fees(db, broker, exchange) -> list[str]:
    """The position monitor's call, once per cycle: one request to the broker."""
    start = broker.requests_sent
    done = book_fees(Ledger(db, "fees-test", exchange.venue.clock.now), broker)
    assert broker.requests_sent - start == 1
    return done


def _assert_books_hold(jobs: Jobs, exchange) -> None:
    report = run_check(jobs.db_params, jobs.broker, jobs.settings, now=exchange.venue.clock.now)
    bad = [f"{f.invariant}: {f.message}" for f in report.findings if f.severity == VIOLATION]
    assert not bad, bad


def _report(db, exchange, tmp_path) -> dict[str, Any]:
    day = exchange.venue.clock.now().astimezone(NY).date()
    return json.loads(write_report(db, day, tmp_path).json.read_text())


def test_a_fee_of_an_order_lands_on_its_fill_and_trade_and_the_pnl_is_net(
        db, jobs, broker, exchange, tmp_path):
    closed = _closed_aapl(db, jobs, exchange)
    _fee(exchange, "0.02", "AAPL", closed["exit"]["alpaca_order_id"])
    done = _book_fees(db, broker, exchange)
    assert any(f"trade #{closed['id']}" in line for line in done), done
    assert db.get_by_id("fills", closed["exit"]["id"])["fee"] == D("0.02")
    trade = db.get_by_id("trade_journal", closed["id"])
    assert (trade["fees"], trade["actual_pnl"]) == (D("0.02"), closed["pnl"] - D("0.02"))
    assert _book_fees(db, broker, exchange) == []  # read again: booked once
    assert db.get_by_id("trade_journal", closed["id"])["actual_pnl"] == closed["pnl"] - D("0.02")
    _assert_books_hold(jobs, exchange)
    report = _report(db, exchange, tmp_path)
    assert D(report["pnl"]["fees"]) == D("0.02")
    assert D(report["pnl"]["realised"]) == closed["pnl"] - D("0.02")
    assert report["unallocated_fees"]["fees"] == []


def test_a_fee_by_symbol_and_day_is_split_pro_rata_across_two_trades(
        db, jobs, broker, exchange):
    prices = {"entry_price": "421.00", "stop_loss": "400.00", "take_profit": "450.00"}
    one = jobs.position(db, "MSFT", quantity=1, **prices)
    three = jobs.position(db, "MSFT", quantity=3, **prices)
    _fee(exchange, "0.08", "MSFT")
    _book_fees(db, broker, exchange)
    fees = {t: db.get_by_id("trade_journal", t)["fees"] for t in (one, three)}
    assert fees == {one: D("0.02"), three: D("0.06")}
    assert [f["fee"] for f in db.query("fills", {"trade_journal_id": three})] == [D("0.06")]
    _assert_books_hold(jobs, exchange)


def test_a_fee_matching_nothing_is_shown_unallocated_until_a_fill_takes_it(
        db, jobs, broker, exchange, tmp_path):
    _fee(exchange, "0.05", "NVDA")
    assert _book_fees(db, broker, exchange) == ["fee " + db.query("fee_activity")[0]["activity_id"]
                                           + " 0.05: unallocated"]
    assert book.unallocated_fees(db) == {"amount": D("0.05"), "fees": 1}
    report = _report(db, exchange, tmp_path)
    assert D(report["unallocated_fees"]["total"]) == D("0.05")
    markdown = (tmp_path / f"report-{report['day']}.md").read_text()
    assert "Unallocated fees: 0.05" in markdown
    assert _book_fees(db, broker, exchange) == []  # still nothing to carry it: nothing written
    assert len(db.query("fee_allocation")) == 1
    # Later that day a fill of ours in NVDA: the fee is tried again and lands on it.
    trade_id = jobs.position(db, "NVDA", quantity=5, stop_loss="120.00")
    _book_fees(db, broker, exchange)
    assert db.get_by_id("trade_journal", trade_id)["fees"] == D("0.05")
    assert book.unallocated_fees(db)["amount"] == 0
    _assert_books_hold(jobs, exchange)


@pytest.mark.parametrize("how", ["in_place", "new_activity"])
def test_a_cancelled_fee_is_reversed(db, jobs, broker, exchange, how):
    closed = _closed_aapl(db, jobs, exchange)
    fee_id = _fee(exchange, "0.02", "AAPL", closed["exit"]["alpaca_order_id"])
    _book_fees(db, broker, exchange)
    _fix(exchange, fee_id, "canceled", how)
    done = _book_fees(db, broker, exchange)
    assert any("reversed" in line for line in done), done
    trade = db.get_by_id("trade_journal", closed["id"])
    assert (trade["fees"], trade["actual_pnl"]) == (D(0), closed["pnl"])
    assert db.get_by_id("fills", closed["exit"]["id"])["fee"] == D(0)
    assert _book_fees(db, broker, exchange) == []
    _assert_books_hold(jobs, exchange)


@pytest.mark.parametrize("how", ["in_place", "new_activity"])
def test_a_corrected_fee_replaces_the_first(db, jobs, broker, exchange, how):
    closed = _closed_aapl(db, jobs, exchange)
    fee_id = _fee(exchange, "0.02", "AAPL", closed["exit"]["alpaca_order_id"])
    _book_fees(db, broker, exchange)
    _fix(exchange, fee_id, "correct", how, amount="0.03")
    _book_fees(db, broker, exchange)
    trade = db.get_by_id("trade_journal", closed["id"])
    assert (trade["fees"], trade["actual_pnl"]) == (D("0.03"), closed["pnl"] - D("0.03"))
    assert [r["activity_id"] for r in db.query("fee_activity", {"effective": True})] != []
    assert sum(r["amount"] for r in db.query("fee_activity", {"effective": True})) == D("0.03")
    _assert_books_hold(jobs, exchange)


def test_fees_booked_before_the_close_are_in_the_closing_pnl(
        db, jobs, broker, exchange):
    """The entry's fee is on its fill when the order monitor closes the trade: the close
    takes it from the fills, and nothing needs truing up after."""
    trade_id = jobs.position(db, stop_loss="170.00", take_profit="190.00")
    [buy] = db.query("fills", {"trade_journal_id": trade_id})
    _fee(exchange, "0.01", "AAPL", buy["alpaca_order_id"])
    _book_fees(db, broker, exchange)
    exchange.control.set_price("AAPL", "190.00")
    jobs.order_monitor()
    trade = db.get_by_id("trade_journal", trade_id)
    assert trade["status"] == "CLOSED" and trade["fees"] == D("0.01")
    assert trade["actual_pnl"] == (D(190) - buy["price"]) * 10 - D("0.01")
    assert _book_fees(db, broker, exchange) == []
    _assert_books_hold(jobs, exchange)


def test_the_cursor_stays_a_week_behind_then_moves_past_settled_fees(
        db, jobs, broker, exchange):
    closed = _closed_aapl(db, jobs, exchange)
    fee_id = _fee(exchange, "0.02", "AAPL", closed["exit"]["alpaca_order_id"])
    _book_fees(db, broker, exchange)
    cursor = db.named("system_value", {"key": "fee_cursor"})[0]["value"]
    assert cursor.startswith("since ")  # the fee may still change: it is read again
    exchange.control.set_clock(exchange.venue.clock.now() + timedelta(days=8))
    assert _book_fees(db, broker, exchange) == []
    assert db.named("system_value", {"key": "fee_cursor"})[0]["value"] == fee_id
    assert _book_fees(db, broker, exchange) == []  # from the id: nothing new, nothing re-booked
    assert db.get_by_id("trade_journal", closed["id"])["fees"] == D("0.02")


def test_a_fee_of_an_order_not_ours_is_never_charged_to_our_trades(
        db, jobs, broker, exchange):
    trade_id = jobs.position(db, stop_loss="170.00", take_profit="190.00")
    _fee(exchange, "0.04", "AAPL", "an-order-of-the-traders-own")
    assert _book_fees(db, broker, exchange)[0].endswith("unallocated")
    assert _book_fees(db, broker, exchange) == []
    assert len(db.query("fee_allocation")) == 1  # not rewritten every cycle
    assert db.get_by_id("trade_journal", trade_id)["fees"] is None
    assert book.unallocated_fees(db)["amount"] == D("0.04")


def test_a_fee_on_a_stand_in_fill_moves_to_the_real_executions(
        db, jobs, broker, exchange):
    """R1's stand-in: the entry's filled quantity read before the FILL feed brought its two
    executions (4 then 6). The fee booked on the stand-in follows the shares when the
    stand-in gives way, so the fills still carry all of it."""
    d = add_decision(db, entry())  # buy 10 limit 175; AAPL at 180
    jobs.executor()
    trade_id = int(outcome(db, d)["trade_journal_id"])
    exchange.control.set_partial_fill(symbol="AAPL", ratio="0.4")
    exchange.control.set_price("AAPL", "174.00")
    exchange.control.set_partial_fill(symbol="AAPL", ratio=None)
    exchange.control.advance(5)
    cancel = add_decision(db, {"ticker": "AAPL", "primary_action": "CANCEL",
                               "existing_trade_journal_id": trade_id})
    jobs.executor()  # reads the filled order: a stand-in of 10
    assert outcome(db, cancel)["terminal_state"] is not None
    [stand_in] = db.query("fills", {"trade_journal_id": trade_id})
    assert stand_in["source"] == "order"
    _fee(exchange, "0.10", "AAPL", stand_in["alpaca_order_id"])
    _book_fees(db, broker, exchange)
    assert db.get_by_id("fills", stand_in["id"])["fee"] == D("0.10")
    jobs.order_monitor()  # the feed: the stand-in gives way to 4 and 6
    _book_fees(db, broker, exchange)
    fills = db.query("fills", {"trade_journal_id": trade_id})
    assert sorted((f["qty"], f["fee"]) for f in fills) == [(D(4), D("0.04")),
                                                          (D(6), D("0.06"))]
    assert db.get_by_id("trade_journal", trade_id)["fees"] == D("0.10")
    exchange.control.set_price("AAPL", "169.00")  # the stop fills
    exchange.control.advance(1)
    jobs.order_monitor()
    trade = db.get_by_id("trade_journal", trade_id)
    assert trade["status"] == "CLOSED" and trade["fees"] == D("0.10")
    _assert_books_hold(jobs, exchange)
