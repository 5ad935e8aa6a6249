"""Trade status transitions, enforced where every journal status change is written."""

from __future__ import annotations

import pytest

from trading_monitor.db_layer import TradingDB
from trading_monitor.domain.lifecycle import IllegalTransition, check_trade_transition
from trading_monitor.executor.books import set_journal


def test_transition_table() -> None:
    check_trade_transition("PENDING", "POSITION")
    check_trade_transition("PENDING", "PENDING")  # a note on a pending trade
    check_trade_transition("POSITION", "CLOSED")
    with pytest.raises(IllegalTransition, match="from CLOSED to PENDING"):
        check_trade_transition("CLOSED", "PENDING")
    with pytest.raises(IllegalTransition):
        check_trade_transition("CANCELLED", "POSITION")


def test_set_journal_refuses_an_illegal_move(db: TradingDB) -> None:
    jid = db.insert("trade_journal", {"symbol": "AAPL", "side": "buy", "trade_style": "SWING",
                                      "protection_mode": "bracket", "status": "CLOSED"})
    with pytest.raises(IllegalTransition):
        set_journal(db, "run", jid, "CANCELLED", "too late")
    assert db.get_by_id("trade_journal", jid)["status"] == "CLOSED"
    set_journal(db, "run", jid, "CLOSED", "note only")
    open_id = db.insert("trade_journal", {"symbol": "MSFT", "side": "buy", "trade_style": "SWING",
                                          "protection_mode": "bracket"})
    set_journal(db, "run", open_id, "CANCELLED", "withdrawn", closing=True)
    row = db.get_by_id("trade_journal", open_id)
    assert (row["status"], row["exit_reason"]) == ("CANCELLED", "withdrawn")
    assert row["exit_date"] is not None
