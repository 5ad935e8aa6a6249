"""A symbol change of a held position carries the trade to the new symbol (issue 21): the
same trade, its stop at the broker under the new symbol, no EXTERNAL close and no adoption;
and an announced worthless removal raises an ALERT the trading day before."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tests.helpers import add_decision, entry, exchange_now, outcome
from tests.integration.test_market_events_splits import (
    MONDAY_OPEN,
    MONDAY_PRE_OPEN,
    SEEN_BY,
    books,
    enter_and_trail,
    first_look,
    held,
    live_exits,
    pre_open,
)
from trading_monitor.cli import status
from trading_monitor.engine.corporate_reads import entry_block
from trading_monitor.report import data, figures, markdown

D = Decimal


@pytest.mark.parametrize("seen_by", SEEN_BY)
def test_a_name_change_carries_the_trade_to_the_new_symbol(db, db_params, broker, settings,
                                                           jobs, exchange, seen_by):
    jid = enter_and_trail(db, db_params, broker, settings, exchange, "AAPL", "180.00", 10,
                          "170.00", "220.00", "195.00")
    exchange.control.corporate_action("name_change", "AAPL", new_symbol="AAPX",
                                      ex_date="2026-11-23")
    exchange.control.set_clock(MONDAY_PRE_OPEN)
    assert held(exchange) == {"AAPX": D(10)}
    first_look(seen_by, db, jobs)
    assert books(db, jid) == {"symbol": "AAPX", "status": "POSITION", "qty": D(10),
                              "avg": D(180), "entry": D(180), "stop": D("180.00"),
                              "take": D("220.00"), "hwm": D(195), "step": 1}
    assert live_exits(exchange, "AAPX") == {"stop": (D(10), D(180)), "limit": (D(10), D(220))}
    assert [r["id"] for r in db.execute_query("SELECT id FROM trade_journal")] == [jid]
    assert {r["symbol"] for r in db.query("order_execution", {"trade_journal_id": jid})} == {
        "AAPX"}
    exchange.control.set_clock(MONDAY_OPEN)
    exchange.control.set_prices({"AAPX": "179.00"})
    jobs.order_monitor()
    j = db.get_by_id("trade_journal", jid)
    assert (j["symbol"], j["status"], j["exit_reason_code"]) == ("AAPX", "CLOSED",
                                                                "STOPPED_OUT")
    assert j["actual_pnl"] == (D(179) - 180) * 10 - (j["fees"] or 0)


def test_a_worthless_removal_is_alerted_the_day_before_flagged_and_blocks_entries(
        db, db_params, broker, settings, jobs, exchange, caplog):
    jid = enter_and_trail(db, db_params, broker, settings, exchange, "AAPL", "180.00", 10,
                          "170.00", "220.00", "195.00")
    exchange.control.corporate_action("worthless_removal", "AAPL", ex_date="2026-11-24")
    exchange.control.corporate_action("forward_split", "MSFT", old_rate=1, new_rate=2,
                                      ex_date="2026-11-23")
    msft = add_decision(db, entry("MSFT", entry_price="211.00", stop_loss="200.00",
                                  take_profit="240.00"))  # waiting for Monday's executor
    exchange.control.set_clock(MONDAY_PRE_OPEN)
    with caplog.at_level(logging.ERROR):
        pre_open(db_params, broker, settings)
        pre_open(db_params, broker, settings)  # once per action
    alerts = [r.getMessage() for r in caplog.records
              if getattr(r, "alert_kind", None) == "corporate_action"]
    assert len(alerts) == 1 and "AAPL: worthless removal on 2026-11-24" in alerts[0], alerts
    assert f"trade #{jid}" in alerts[0]
    assert [e for e in db.query("event_log", {"entity": "trade_journal", "entity_id": jid})
            if e["event"] == "corporate_action"]
    # status and the report flag it.
    now = exchange_now()
    flags = status.gather(db, settings, now)["corporate_actions"]
    assert flags and flags[0].startswith("ENDS THE POSITION: AAPL: worthless removal")
    text = markdown.render(figures.compute(data.load(db, date(2026, 11, 23))))
    assert "**Corporate action**: ENDS THE POSITION: AAPL: worthless removal" in text
    # Monday: an entry into MSFT (split today) is refused with the reason; AAPL's is not.
    exchange.control.set_clock(MONDAY_OPEN + timedelta(minutes=15))
    aapl = add_decision(db, entry("AAPL", entry_price="196.00", stop_loss="190.00",
                                  take_profit="220.00", quantity=1))
    jobs.executor()
    refused = outcome(db, msft)
    assert refused["terminal_state"] == "REJECTED"
    assert "corporate action today: MSFT: forward split 2 for 1 on 2026-11-23" in \
        refused["reason"]
    assert "corporate action" not in (outcome(db, aapl)["reason"] or ""), outcome(db, aapl)
    # Tuesday: AAPL is refused too (its removal is that day).
    exchange.control.set_clock(datetime(2026, 11, 24, 14, 0, tzinfo=timezone.utc))
    assert "corporate action today: AAPL: worthless removal" in (entry_block(
        db, "AAPL", date(2026, 11, 24)) or "")
    assert entry_block(db, "AAPL", date(2026, 11, 23)) is None


def test_an_entry_into_a_symbol_split_today_is_refused_without_a_pre_open_read(
        db, db_params, broker, settings, jobs, exchange):
    exchange.control.corporate_action("forward_split", "NVDA", old_rate=1, new_rate=2)
    d = add_decision(db, entry("NVDA", entry_price="65.10", stop_loss="62.00",
                               take_profit="75.00"))
    exchange.control.reset_counters()
    jobs.executor()
    refused = outcome(db, d)
    assert refused["terminal_state"] == "REJECTED"
    assert "corporate action today: NVDA: forward split 2 for 1 on 2026-11-20" in \
        refused["reason"]
    assert exchange.control.counters()["GET /v1/corporate-actions"] == 1
    again = add_decision(db, entry("NVDA", entry_price="65.10", stop_loss="62.00",
                                   take_profit="75.00"))
    jobs.executor()  # read once a day per symbol
    assert "corporate action today" in outcome(db, again)["reason"]
    assert exchange.control.counters()["GET /v1/corporate-actions"] == 1
