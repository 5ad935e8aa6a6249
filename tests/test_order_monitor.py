"""The order monitor against the paper exchange: fills booked once, positions protected,
exits closed with P&L from the fills. Orders are counted at the exchange."""

from __future__ import annotations

from decimal import Decimal

from tests.helpers import add_decision, entry, monitor, outcome, run

D = Decimal


def _journal(db, jid):
    return db.get_by_id("trade_journal", jid)


def _trade(db, db_params, broker, settings, **overrides) -> int:
    d = add_decision(db, entry(**overrides))
    run(db_params, broker, settings)
    result = outcome(db, d)
    assert result["terminal_state"] == "EXECUTED", result["reason"]
    return int(result["trade_journal_id"])


def test_bracket_entry_fill_then_stop_out_closes_with_pnl(db, db_params, broker, settings,
                                                          exchange):
    jid = _trade(db, db_params, broker, settings, entry_price="181.00", stop_loss="175.00",
                 take_profit="195.00")  # marketable: fills at once
    report = monitor(db_params, broker, settings)
    journal = _journal(db, jid)
    assert journal["status"] == "POSITION", report.actions
    assert journal["actual_qty"] == D(10) and journal["protected_at"] is not None
    [position] = db.query("position_tracking", {"trade_journal_id": jid})
    assert position["qty"] == D(10)
    fills = db.query("fills", {"trade_journal_id": jid})
    assert [f["qty"] for f in fills] == [D(10)]
    exchange.control.set_price("AAPL", "174.00")  # through the stop
    exchange.control.advance(1)
    monitor(db_params, broker, settings)
    journal = _journal(db, jid)
    assert journal["status"] == "CLOSED", journal
    assert journal["exit_reason_code"] == "STOPPED_OUT"
    assert journal["actual_pnl"] == (journal["exit_price"] - journal["actual_entry_price"]) * 10
    assert db.query("position_tracking", {"trade_journal_id": jid}) == []
    assert broker.get_positions() == []
    again = monitor(db_params, broker, settings)  # twice changes nothing
    assert again.actions == [] and again.sync.new_fills == 0
