"""A security that ends while we hold it (issue 21): a worthless removal or a cash merger the
exchange applies at 04:00 New York on its date. The trade is closed at what the action paid
(REORG / MA activity: nothing, or the cash per share), not at the last price."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from tests.helpers import add_decision, entry, outcome
from tests.integration.test_market_events_splits import (
    LIVE,
    MONDAY_OPEN,
    MONDAY_PRE_OPEN,
    books,
    enter_and_trail,
    held,
    pre_open,
)

D = Decimal
TUESDAY_PRE_OPEN = datetime(2026, 11, 24, 14, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("kind", "rate", "paid"), [("worthless_removal", None, D(0)),
                                                    ("cash_merger", "200", D(200))])
def test_a_position_the_action_ends_is_closed_at_what_it_paid(
        db, jobs, db_params, broker, settings, exchange, kind, rate, paid):
    jid = enter_and_trail(db, db_params, broker, settings, exchange, "AAPL", "180.00", 10,
                          "170.00", "220.00", "195.00")
    exchange.control.corporate_action(kind, "AAPL", ex_date="2026-11-24",
                                      **({"rate": rate} if rate else {}))
    exchange.control.set_clock(datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc))
    pre_open(db_params, broker, settings)  # the ALERT the day before; stored
    exchange.control.set_clock(TUESDAY_PRE_OPEN)
    assert held(exchange) == {}
    pre_open(db_params, broker, settings)
    exchange.control.advance(120)
    jobs.position_monitor()
    j = db.get_by_id("trade_journal", jid)
    assert (j["status"], j["exit_reason_code"]) == ("CLOSED", "EXTERNAL"), j
    assert (j["exit_price"], j["actual_pnl"]) == (paid, (paid - D(180)) * 10 - (j["fees"] or 0))
    (note,) = [e["message"] for e in db.query("event_log", {"entity": "trade_journal",
                                                             "entity_id": jid})
               if "gone at the broker" in (e["message"] or "")]
    assert f"{kind.replace('_', ' ')} (corporate action" in note, note


def test_a_reverse_split_across_two_trades_pays_the_fraction_once(
        db, jobs, db_params, broker, exchange):
    jobs = jobs.with_settings(BLOCK_DUPLICATE_ENTRY="false")
    first = enter_and_trail(db, db_params, broker, jobs.settings, exchange, "AMD", "15.00", 105,
                            "13.50", "20.00", "16.50")
    exchange.control.set_prices({"AMD": "16.50"})
    d = add_decision(db, entry("AMD", entry_price="16.60", stop_loss="15.50",
                               take_profit="20.00", quantity=37))
    jobs.executor()
    exchange.control.advance(1)
    jobs.order_monitor()
    second = int(outcome(db, d)["trade_journal_id"])
    assert held(exchange) == {"AMD": D(142)}
    exchange.control.corporate_action(
        "reverse_split", "AMD", old_rate=10, new_rate=1, new_symbol="AMDR",
        ex_date="2026-11-23", cash_in_lieu_price="160")
    exchange.control.set_clock(MONDAY_PRE_OPEN)
    assert held(exchange) == {"AMDR": D(14)}  # 14.2: 0.2 paid in cash
    pre_open(db_params, broker, jobs.settings)
    # The broker rounds the position, not each trade: whole shares per trade (10.5 -> 10 and
    # 3.7 -> 4, the largest fraction taking the whole share left over), the first trade
    # paid for its half share, 0.3 of it bought by the second at the cash price.
    assert [books(db, jid)["qty"] for jid in (first, second)] == [D(10), D(4)]
    assert books(db, second)["avg"] == (D("3.7") * 165 + D("0.3") * 160) / 4
    stops = sorted((q, p) for q, p in _stops(exchange, "AMDR"))
    assert stops == [(D(4), D(155)), (D(10), D(150))]  # each trade's own, whole shares
    exchange.control.set_clock(MONDAY_OPEN)
    exchange.control.set_prices({"AMDR": "149.00"})
    jobs.order_monitor()
    pnl = {}
    for jid in (first, second):
        j = db.get_by_id("trade_journal", jid)
        assert (j["status"], j["exit_reason_code"]) == ("CLOSED", "STOPPED_OUT")
        pnl[jid] = j["actual_pnl"] + (j["fees"] or 0)
    assert pnl == {first: (D(149) - 150) * 10 + (D(160) - 150) * D("0.5"),
                   second: D(149) * 4 - (D("3.7") * 165 + D("0.3") * 160)}
    # Together: what the broker paid (14 at 149 and 0.2 in cash) less what was spent.
    assert sum(pnl.values()) == D(149) * 14 + D("0.2") * 160 - (105 * D(15) + 37 * D("16.5"))
    assert held(exchange) == {}


def _stops(exchange, symbol):  # type: ignore[no-untyped-def]
    for o in exchange.control.orders():
        for x in [o, *(o.get("legs") or [])]:
            if x["symbol"] == symbol and x["type"] == "stop" and x["status"] in LIVE:
                yield D(x["qty"]), D(x["stop_price"])


def test_cash_in_lieu_booked_at_the_mark_is_corrected_when_the_cil_posts(
        db, jobs, db_params, broker, settings, exchange):
    jid = enter_and_trail(db, db_params, broker, settings, exchange, "AMD", "15.00", 105,
                          "13.50", "20.00", "16.50")
    action = exchange.control.corporate_action(
        "reverse_split", "AMD", old_rate=10, new_rate=1, new_symbol="AMDR",
        ex_date="2026-11-23", cash_in_lieu_price="160", cash_in_lieu_posted=False)
    exchange.control.set_clock(MONDAY_PRE_OPEN)
    assert held(exchange) == {"AMDR": D(10)}
    pre_open(db_params, broker, settings)
    [cil] = [f for f in db.query("fills", {"trade_journal_id": jid})
             if f["alpaca_order_id"].startswith("cil:")]
    assert (cil["qty"], cil["price"], cil["activity_id"]) == (D("0.5"), D(165), None)  # mark
    exchange.control.set_clock(MONDAY_OPEN)
    exchange.control.set_prices({"AMDR": "149.00"})
    jobs.order_monitor()
    j = db.get_by_id("trade_journal", jid)
    fees = j["fees"] or 0
    assert j["actual_pnl"] == (D(149) - 150) * 10 + (D(165) - 150) * D("0.5") - fees
    exchange.control.post_cash_in_lieu(action["listing"]["id"])  # Alpaca posts it later
    exchange.control.advance(31 * 60)
    jobs.position_monitor()
    jobs.position_monitor()  # corrected once
    [cil] = [f for f in db.query("fills", {"trade_journal_id": jid})
             if f["alpaca_order_id"].startswith("cil:")]
    assert cil["price"] == D(160) and cil["activity_id"]
    j = db.get_by_id("trade_journal", jid)
    assert j["actual_pnl"] == (D(149) - 150) * 10 + (D(160) - 150) * D("0.5") - fees


def test_a_split_never_announced_is_derived_from_its_split_activity(
        db, db_params, broker, settings, exchange):
    jid = enter_and_trail(db, db_params, broker, settings, exchange, "AAPL", "180.00", 10,
                          "170.00", "220.00", "195.00")
    exchange.control.corporate_action("forward_split", "AAPL", old_rate=1, new_rate=2,
                                      ex_date="2026-11-23", listed=False)
    exchange.control.set_clock(MONDAY_PRE_OPEN)
    report = pre_open(db_params, broker, settings)
    assert "corporate actions read for" in " ".join(report.actions)  # nothing listed
    assert any("found after the fact" in a for a in report.actions), report.actions
    (row,) = db.query("corporate_action", {"symbol": "AAPL"})
    assert (row["source"], row["action_id"].startswith("activity:")) == ("activity", True)
    assert books(db, jid)["qty"] == D(20) and books(db, jid)["stop"] == D("90.00")
    assert sorted(_stops(exchange, "AAPL")) == [(D(20), D(90))]
