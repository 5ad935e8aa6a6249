"""An order the broker replaced on its own (a corporate action's adjustment comes back as a
new order), twice before we looked: the sync follows the whole replaced_by chain, so the
trade keeps its one live stop and no second one is sent."""

from __future__ import annotations

from decimal import Decimal

from tests.helpers import add_decision, entry, outcome

D = Decimal


def _live_stops(exchange, symbol: str = "AAPL") -> list[dict]:
    return [o for o in exchange.control.orders() if o["symbol"] == symbol
            and o["type"] in ("stop", "stop_limit") and o["status"] in ("new", "held")]


def test_a_stop_replaced_twice_by_the_broker_is_followed_to_its_last_order(db, jobs,
                                                                          exchange):
    staged = jobs.with_settings(PROTECTION_MODE="staged", MAX_DAILY_LOSS="off")
    d = add_decision(db, entry(trade_style="DAYTRADE", take_profit=None, entry_price="181.00",
                               stop_loss="175.00", quantity=10))
    staged.executor()
    exchange.control.advance(1)
    staged.order_monitor()
    jid = int(outcome(db, d)["trade_journal_id"])
    (first,) = _live_stops(exchange)
    for _ in range(2):  # two adjustments, each a new order, before our next look
        exchange.control.corporate_action("forward_split", "AAPL", old_rate=1, new_rate=2,
                                          apply="now", replace_adjusted=True)
    (last,) = _live_stops(exchange)
    assert last["id"] != first["id"] and last["replaces"] != first["id"]  # a chain of two
    exchange.control.advance(1)
    report = staged.order_monitor()
    assert report.problems == []
    assert [o["id"] for o in _live_stops(exchange)] == [last["id"]]  # no second stop sent
    rows = [r for r in db.query("order_execution", {"trade_journal_id": jid})
            if r["order_role"] == "STOP_LOSS"]
    assert [(r["alpaca_order_id"], r["order_status"]) for r in rows] == [
        (last["id"], last["status"])]
    assert D(last["qty"]) == D(40)
