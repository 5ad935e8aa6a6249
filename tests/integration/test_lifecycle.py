"""Trade status transitions, enforced where every journal status change is written."""

from __future__ import annotations

import pytest

from tests.helpers import ledger
from trading_monitor.db.connection import TradingDB
from trading_monitor.domain.lifecycle import (
    IllegalTransition,
    TradeStatus,
    check_trade_transition,
    trade_status_for_entry,
)


def test_transition_table() -> None:
    check_trade_transition("PENDING", "POSITION")
    check_trade_transition("PENDING", "PENDING")  # a note on a pending trade
    check_trade_transition("POSITION", "CLOSED")
    with pytest.raises(IllegalTransition, match="from CLOSED to PENDING"):
        check_trade_transition("CLOSED", "PENDING")
    with pytest.raises(IllegalTransition):
        check_trade_transition("REJECTED", "POSITION")
    with pytest.raises(IllegalTransition):
        check_trade_transition("CLOSED", "POSITION")


def test_races_the_broker_produces_are_allowed() -> None:
    # A fill that raced our cancel or the session's end: the shares are a fact.
    check_trade_transition("CANCELLED", "POSITION")
    check_trade_transition("EXPIRED", "POSITION")
    check_trade_transition("PENDING", "EXPIRED")


def test_an_entry_order_maps_onto_its_trade() -> None:
    from decimal import Decimal as D

    assert trade_status_for_entry("canceled", D(3)) is TradeStatus.POSITION
    assert trade_status_for_entry("canceled", D(0)) is TradeStatus.CANCELLED
    assert trade_status_for_entry("expired", D(0)) is TradeStatus.EXPIRED
    assert trade_status_for_entry("rejected", D(0)) is TradeStatus.REJECTED
    assert trade_status_for_entry("pending_cancel", D(0)) is None
    assert trade_status_for_entry("new", D(0)) is None


def test_the_ledger_refuses_an_illegal_move(db: TradingDB) -> None:
    books = ledger(db)
    jid = db.insert("trade_journal", {"symbol": "AAPL", "side": "buy", "trade_style": "SWING",
                                      "protection_mode": "bracket", "status": "CLOSED"})
    with pytest.raises(IllegalTransition):
        books.set_trade_status(jid, TradeStatus.CANCELLED, "too late")
    assert db.get_by_id("trade_journal", jid)["status"] == "CLOSED"
    books.set_trade_status(jid, TradeStatus.CLOSED, "note only")
    open_id = db.insert("trade_journal", {"symbol": "MSFT", "side": "buy", "trade_style": "SWING",
                                          "protection_mode": "bracket"})
    books.set_trade_status(open_id, TradeStatus.CANCELLED, "withdrawn")
    row = db.get_by_id("trade_journal", open_id)
    assert (row["status"], row["exit_reason"]) == ("CANCELLED", "withdrawn")
    assert row["exit_date"] is not None
    books.set_trade_status(open_id, TradeStatus.POSITION, "a fill raced the cancel")
    assert db.get_by_id("trade_journal", open_id)["status"] == "POSITION"
