"""Borrow fees and dividends owed on a short (issue 21), posted by the paper exchange as
account activities (POST /control/cash_activity) and booked by the position monitor's fee
read (trading_monitor/engine/fees.py) onto the short trade that held the symbol, by the days it was
held (basis position_held); what cannot be identified, or matches no short of ours, is listed
in the report as unallocated."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
import pytz

from tests.conftest import exchange_env
from tests.helpers import add_decision, entry, outcome
from trading_monitor.invariants import run_check
from trading_monitor.invariants.model import VIOLATION
from trading_monitor.report import write_report
from trading_monitor.settings.config import load_settings

D = Decimal
NY = pytz.timezone("America/New_York")
MONDAY = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)  # 10:00 New York


@pytest.fixture
def settings(exchange):
    return load_settings(exchange_env(exchange, BLOCK_DUPLICATE_ENTRY="false",
                                      MAX_DAILY_LOSS="off"), need_broker=True)


def _post(exchange: Any, kind: str, amount: str, symbol: str | None = None,
          description: str | None = None) -> str:
    body: dict[str, Any] = {"activity_type": kind, "amount": amount}
    if symbol:
        body["symbol"] = symbol
    if description:
        body["description"] = description
    return str(exchange.control._call("POST", "/control/cash_activity", body)["id"])


def test_a_shorts_borrow_fee_and_dividend_are_booked_to_its_pnl_the_rest_unallocated(
        db, jobs, db_params, broker, exchange, settings, tmp_path):
    exchange.control.set_prices({"AAPL": "200.00"})
    d = add_decision(db, entry("AAPL", side="SELL", entry_price="199.00", stop_loss="206.00",
                               take_profit="190.00", quantity=10))
    jobs.executor()
    jobs.order_monitor()
    found = outcome(db, d)
    assert found["terminal_state"] == "EXECUTED", found["reason"]
    jid = int(found["trade_journal_id"])
    assert db.get_by_id("trade_journal", jid)["status"] == "POSITION"
    exchange.control.set_clock(MONDAY)  # held short over the weekend
    exchange.control.set_prices({"AAPL": "200.00"})
    _post(exchange, "FEE", "1.20", "AAPL", "stock borrow fee")
    _post(exchange, "DIV", "-4.80", "AAPL", "cash dividend owed on a short position")
    nra = _post(exchange, "DIVNRA", "-0.75", "AAPL")  # a dividend-family debit: unidentified
    loose = _post(exchange, "FEE", "2.00", None, "stock borrow fee")  # no symbol: to no trade
    _post(exchange, "DIV", "3.00", "MSFT")  # a dividend received: no cost of ours, not booked
    jobs.position_monitor()  # the position monitor's fee read
    kinds = {r["activity_id"]: (r["activity_type"], r["cost_kind"])
             for r in db.query("fee_activity")}
    assert sorted(kinds.values()) == [("DIV", "short_dividend"), ("DIVNRA", "unidentified"),
                                      ("FEE", "borrow"), ("FEE", "borrow")], kinds
    held = [a for a in db.query("fee_allocation") if a["basis"] == "position_held"]
    assert ({a["trade_journal_id"] for a in held}, sum(a["amount"] for a in held)) == (
        {jid}, D("6.00"))
    assert db.get_by_id("trade_journal", jid)["fees"] == D("6.00")

    exchange.control.set_prices({"AAPL": "190.00"})  # the take profit covers the short
    jobs.order_monitor()
    j = db.get_by_id("trade_journal", jid)
    assert j["status"] == "CLOSED"
    fills = db.query("fills", {"trade_journal_id": jid})
    sold = sum(f["qty"] * f["price"] for f in fills if f["side"] == "sell")
    bought = sum(f["qty"] * f["price"] for f in fills if f["side"] == "buy")
    assert j["fees"] == D("6.00") and j["actual_pnl"] == sold - bought - D("6.00"), (
        j["fees"], j["actual_pnl"], sold, bought)

    check = run_check(db_params, broker, settings, now=exchange.venue.clock.now)
    assert not [f"{f.invariant}: {f.message}" for f in check.findings
                if f.severity == VIOLATION]  # P&L still matches the fills net of fees
    day = exchange.venue.clock.now().astimezone(NY).date()
    report = json.loads(write_report(db, day, tmp_path).json.read_text())
    unallocated = report["unallocated_fees"]
    assert D(unallocated["total"]) == D("2.75")
    assert sorted((f["activity_id"], f["activity_type"]) for f in unallocated["fees"]) == sorted(
        [(nra, "DIVNRA"), (loose, "FEE")])
    markdown = (tmp_path / f"report-{report['day']}.md").read_text()
    assert "Unallocated fees: 2.75" in markdown
    assert "DIVNRA AAPL 0.75 (dividend, unidentified)" in markdown, markdown
    assert "FEE 2.00 (stock borrow fee, borrow)" in markdown, markdown
