"""A trade of ours stopped out in the same second as a new trade's entry fills on the same
symbol, while Alpaca's positions lag: the new trade is protected in the order monitor's run.

The closed trade's stop fill is "something else" on the symbol; until it was told apart it
made the protection wait for the broker's positions (capped at the 0 they showed 30 s ago),
and the new position had no stop after the run (found by the lifecycle model:
tests/model/test_model_regressions.py OUR_CLOSED_TRADE_IN_THE_SAME_SECOND). A trade of ours
whose fills net to zero changed no share: within RECONCILE_GRACE_SECONDS our fills prove the
new trade's shares (R11)."""

from __future__ import annotations

from decimal import Decimal

from tests.helpers import add_decision, outcome
from tests.support.jobs import marketable


def test_a_new_trade_is_protected_while_positions_lag_our_closed_trade(db, jobs, exchange):
    exchange.control.set_position_lag(30)  # GET /v2/positions shows the book of 30 s ago: flat
    first = add_decision(db, marketable("AAPL", stop_loss="179.00"))  # bracket, buys 10
    jobs.executor()
    exchange.control.set_price("AAPL", "178.50")  # its stop leg fills: flat again
    jobs.order_monitor()
    closed = int(outcome(db, first)["trade_journal_id"])
    assert db.get_by_id("trade_journal", closed)["status"] == "CLOSED"

    staged = jobs.with_settings(PROTECTION_MODE="staged", BLOCK_SAME_DAY_REENTRY="false")
    second = add_decision(db, marketable("AAPL", entry_price="179.00", stop_loss="170.00",
                                         take_profit="190.00", quantity=5))
    staged.executor()  # fills at once, in the same second as the first trade's stop
    staged.order_monitor()

    jid = int(outcome(db, second)["trade_journal_id"])
    journal = db.get_by_id("trade_journal", jid)
    assert journal["status"] == "POSITION" and journal["actual_qty"] == 5
    assert journal["protected_at"] is not None
    [position] = exchange.control.state()["positions"]  # the broker's own, never lagged
    assert (position["symbol"], Decimal(position["qty"])) == ("AAPL", Decimal(5))
    stops = [o for o in exchange.control.orders() if o["side"] == "sell"
             and o["order_type"] in ("stop", "stop_limit") and o["status"] in ("new", "held")]
    assert [Decimal(o["qty"]) for o in stops] == [Decimal(5)]  # one live stop, every share
    [row] = [r for r in db.query("order_execution", {"trade_journal_id": jid})
             if r["order_role"] == "STOP_LOSS"]
    assert row["qty"] == 5 and row["order_status"] in ("new", "accepted", "held")
