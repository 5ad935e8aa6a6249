"""A symbol change of a held position carries the trade to the new symbol (issue 21): the
same trade, its stop at the broker under the new symbol, no EXTERNAL close and no adoption;
and an announced worthless removal raises an ALERT the trading day before."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from tests.helpers import monitor
from tests.test_market_events_splits import (
    MONDAY_OPEN,
    MONDAY_PRE_OPEN,
    SEEN_BY,
    books,
    enter_and_trail,
    first_look,
    held,
    live_exits,
)

D = Decimal


@pytest.mark.parametrize("seen_by", SEEN_BY)
def test_a_name_change_carries_the_trade_to_the_new_symbol(db, db_params, broker, settings,
                                                           exchange, seen_by):
    jid = enter_and_trail(db, db_params, broker, settings, exchange, "AAPL", "180.00", 10,
                          "170.00", "220.00", "195.00")
    exchange.control.corporate_action("name_change", "AAPL", new_symbol="AAPX",
                                      ex_date="2026-11-23")
    exchange.control.set_clock(MONDAY_PRE_OPEN)
    assert held(exchange) == {"AAPX": D(10)}
    first_look(seen_by, db, db_params, broker, settings)
    assert books(db, jid) == {"symbol": "AAPX", "status": "POSITION", "qty": D(10),
                              "avg": D(180), "entry": D(180), "stop": D("180.00"),
                              "take": D("220.00"), "hwm": D(195), "step": 1}
    assert live_exits(exchange, "AAPX") == {"stop": (D(10), D(180)), "limit": (D(10), D(220))}
    assert [r["id"] for r in db.execute_query("SELECT id FROM trade_journal")] == [jid]
    assert {r["symbol"] for r in db.query("order_execution", {"trade_journal_id": jid})} == {
        "AAPX"}
    exchange.control.set_clock(MONDAY_OPEN)
    exchange.control.set_prices({"AAPX": "179.00"})
    monitor(db_params, broker, settings)
    j = db.get_by_id("trade_journal", jid)
    assert (j["symbol"], j["status"], j["exit_reason_code"]) == ("AAPX", "CLOSED",
                                                                "STOPPED_OUT")
    assert j["actual_pnl"] == (D(179) - 180) * 10 - (j["fees"] or 0)
