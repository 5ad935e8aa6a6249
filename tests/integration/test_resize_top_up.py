"""RESIZE (found by the lifecycle model's --slow run, seed 13): a position that grew (a staged
entry's rest filled after its first protection) keeps the protection it has, and the added
shares get their own. Before, the old OCO was cancelled first; with that cancel pending the
run ended with the added shares unprotected (and, once final, all of them until the new one
went out). Alpaca takes a second closing order for shares the first does not hold."""

from __future__ import annotations

from decimal import Decimal

from tests.helpers import add_decision, entry, outcome
from tests.support.jobs import Jobs

D = Decimal
LIVE = {"new", "accepted", "held", "partially_filled", "pending_cancel"}


def _stops(exchange, side="sell"):
    return sorted((D(o["qty"]), D(o["stop_price"])) for o in exchange.control.orders()
                  if o["status"] in LIVE and o["side"] == side
                  and o["order_type"] in ("stop", "stop_limit"))


def _grown_position(db, staged: Jobs, exchange, **overrides) -> int:
    exchange.control.set_cancel_behavior("pending", seconds=600)  # no cancel is final soon
    exchange.control.set_partial_fill(symbol="AAPL", ratio="0.3")
    d = add_decision(db, entry(**{"entry_price": "181.00", "stop_loss": "175.00",
                                  "take_profit": "195.00", **overrides}))
    staged.executor()
    jid = int(outcome(db, d)["trade_journal_id"])
    staged.order_monitor()  # 3 filled: protected
    exchange.control.set_partial_fill(symbol="AAPL", ratio=None)
    exchange.control.advance(60)  # the rest fills
    staged.order_monitor()
    return jid


def test_a_position_that_grew_keeps_its_stop_and_the_added_shares_get_their_own(
        db, jobs, exchange):
    staged = jobs.with_settings(PROTECTION_MODE="staged")
    jid = _grown_position(db, staged, exchange)
    assert _stops(exchange) == [(D(3), D("175.00")), (D(7), D("175.00"))]
    assert not [o for o in exchange.control.orders() if o["status"] == "pending_cancel"]
    assert db.get_by_id("trade_journal", jid)["actual_qty"] == D(10)
    before = len(exchange.control.orders())
    exchange.control.advance(60)
    staged.order_monitor()
    assert len(exchange.control.orders()) == before  # settled: nothing more is sent


def test_both_stops_of_a_grown_position_are_trailed(db, jobs, exchange):
    staged = jobs.with_settings(PROTECTION_MODE="staged", RECONCILE_GRACE_SECONDS="60")
    _grown_position(db, staged, exchange, take_profit="260.00")
    exchange.control.set_cancel_behavior("immediate")
    exchange.control.set_price("AAPL", "195.00")  # far enough for the first trailing steps
    for _ in range(3):
        staged.position_monitor()
    stops = _stops(exchange)
    assert [q for q, _ in stops] == [D(3), D(7)], stops
    assert len({p for _, p in stops}) == 1 and stops[0][1] > D("175.00"), stops
