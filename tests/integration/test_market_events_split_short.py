"""A short through a reverse split whose bracket stop fires at the open before the split is
applied to the books (issue 21; the lifecycle model found it), through the real jobs on the
paper exchange.

5 AAPL sold short at 180 on Friday 2026-11-20 (a SWING bracket, stop 186, target 160). A
1-for-2 reverse split takes effect on Monday 2026-11-23; the exchange applies it at 04:00 New
York as Alpaca does (changes-2026.md §5, docs/paper-exchange.md "Corporate actions"): the
short of 5 becomes 2 shares, not 2.5 (Alpaca has no fractional shorts), and the half share is
settled as cash in lieu (a CIL activity; the account pays 0.5 x 360 = 180). The bracket's
legs carry DNR/DNC: their qty follows (2), their prices stay, so the buy stop at 186 fires at
the open against a market of 360 and covers the 2 shares. No pre-open run saw the split first.

The next cycles book the cover (2 at 360) and then apply the split: only the fills from
before it are restated (5 at 180 → 2.5 at 360), the half share is booked as a cash-in-lieu
buy at 360, and the trade closes STOPPED_OUT with P&L 0.00 (sold for 900.00; bought back 2 at
360 = 720.00 and 0.5 in cash = 180.00). Before the fix the books restated the net 5 - 2 = 3,
found the broker's 0 "neither 3 nor 1.5" and stayed 3 short of a flat broker.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from tests.helpers import add_decision, entry, exchange_now, outcome
from trading_monitor.position_monitor.corporate_actions import pre_open_once

D = Decimal
MONDAY_OPEN = datetime(2026, 11, 23, 14, 31, tzinfo=timezone.utc)
CIL_PRICE = D("360")  # per new share


@pytest.mark.parametrize("seen_by", ["announcement", "activity"])
def test_a_short_whose_stop_fired_after_a_reverse_split_closes_with_cash_in_lieu(
        db, jobs, db_params, broker, settings, exchange, seen_by):
    exchange.control.set_prices({"AAPL": "180.00"})
    d = add_decision(db, entry("AAPL", side="SELL", entry_price="179.90", stop_loss="186.00",
                               take_profit="160.00", quantity=5))
    jobs.executor()
    exchange.control.advance(1)
    jobs.order_monitor()
    jid = int(outcome(db, d)["trade_journal_id"])
    j = db.get_by_id("trade_journal", jid)
    assert (j["status"], j["actual_qty"], j["actual_entry_price"]) == ("POSITION", 5, 180)
    cash_before = D(broker.get_account().cash)

    exchange.control.corporate_action(
        "reverse_split", "AAPL", old_rate=2, new_rate=1, ex_date="2026-11-23",
        cash_in_lieu_price=str(CIL_PRICE), bracket_qty_follows=True,
        listed=seen_by == "announcement")
    exchange.control.set_clock(MONDAY_OPEN)
    # The exchange, as Alpaca: -2 shares, not -2.5; the half share paid in cash (the account
    # pays 180.00), and the DNR stop (2 shares at 186) covered the 2 at the open at 360.
    [split] = exchange.control._call("GET", "/control/corporate_actions")
    assert split["outcome"]["position"] == {"symbol": "AAPL", "qty_before": "-5", "qty": "-2",
                                            "cash_in_lieu": "-180"}
    assert exchange.control.state()["positions"] == []
    stops = [o for o in exchange.control.orders() for o in [o, *(o.get("legs") or [])]
             if o["symbol"] == "AAPL" and o["side"] == "buy" and o["type"] == "stop"]
    assert [(o["status"], D(o["filled_qty"]), D(o["stop_price"])) for o in stops] == [
        ("filled", 2, 186)]
    assert D(broker.get_account().cash) == cash_before - 180 - 2 * 360

    jobs.order_monitor()  # books the cover: 2 new shares
    report = jobs.position_monitor()  # applies the split
    assert report.status == "PASS", report.failing

    j = db.get_by_id("trade_journal", jid)
    assert (j["status"], j["exit_reason_code"]) == ("CLOSED", "STOPPED_OUT")
    assert (j["actual_qty"], j["actual_entry_price"]) == (D("2.5"), D(360))
    assert j["actual_pnl"] == -(j["fees"] or 0)
    fills = db.execute_query("SELECT side, qty, price, alpaca_order_id LIKE 'cil:%%' AS cil "
                             "FROM fills WHERE trade_journal_id = %s ORDER BY filled_at", [jid])
    assert [(f["side"], f["qty"], f["price"], f["cil"]) for f in fills] == [
        ("sell", D("2.5"), D(360), False), ("buy", D("0.5"), CIL_PRICE, True),
        ("buy", D(2), D(360), False)]
    [applied] = db.query("corporate_action_trade", {"trade_journal_id": jid})
    assert (applied["ratio"], applied["qty_before"], applied["qty_after"],
            applied["cash_in_lieu"]) == (D("0.5"), D(5), D(2), D("180.00"))
    assert not db.query("position_tracking", {"trade_journal_id": jid})

    # Nothing more: no order sent, the books stay closed, at the next pre-open run too.
    orders = len(exchange.control.orders())
    jobs.order_monitor()
    pre_open_once(db_params, broker, settings, now=exchange_now)
    assert len(exchange.control.orders()) == orders
    assert db.get_by_id("trade_journal", jid)["status"] == "CLOSED"
