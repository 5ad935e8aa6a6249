"""R14: a trailing step counts only while the broker's stop stands at it.

A step was recorded as soon as the PATCH returned, and `trail()` never proposes a recorded
step again. When the broker's stop then does not stand at that level (Alpaca rejects the
replacement after accepting it, or the stop is moved back at the broker), the position
kept a looser stop than our books said, for good. Now the step is recorded only on the
broker's word that the replacement is live, and a step the live stop does not stand at is
tried again.
"""

from __future__ import annotations

from decimal import Decimal

from tests.helpers import add_decision, entry, outcome

D = Decimal
LIVE = {"new", "accepted", "held", "partially_filled"}


def _stops(exchange):
    return [D(o["stop_price"]) for o in exchange.control.orders() if o["symbol"] == "AAPL"
            and o["order_type"] == "stop" and o["status"] in LIVE]


def test_a_step_the_broker_does_not_hold_is_tried_again(db, jobs, broker, exchange):
    jobs = jobs.with_settings(PROTECTION_MODE="staged")
    d = add_decision(db, entry(trade_style="DAYTRADE", entry_price="181.00",
                               stop_loss="175.00", take_profit=None))
    jobs.executor()
    jobs.order_monitor()
    jid = outcome(db, d)["trade_journal_id"]
    exchange.control.set_price("AAPL", "195.00")  # +8.3 %: the stop goes to break-even
    jobs.position_monitor()
    assert _stops(exchange) == [D("180.00")]
    [live] = [o for o in exchange.control.orders() if o["order_type"] == "stop"
              and o["status"] in LIVE]
    broker.replace_order(live["id"], stop_price=D("175.00"))  # moved back at the broker
    exchange.control.advance(60)
    report = jobs.position_monitor()
    exchange.control.advance(60)
    jobs.position_monitor()
    assert _stops(exchange) == [D("180.00")], report.actions  # the step, again
    assert db.get_by_id("trade_journal", jid)["planned_stop_loss"] == D("180.00")
