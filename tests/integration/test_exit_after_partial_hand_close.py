"""Found by the third 60-minute --slow run (seed 20261207, 68 steps): the trader buys back 2
of our 4 short shares by hand; at 15:50 the flatten's exit buys the 2 the broker still holds
and fills. The books (4 − 2 = 2, the hand close not booked yet) then asked for a stop for 2,
and the order monitor placed it on its own fills' word (its exit had just filled, inside
RECONCILE_GRACE_SECONDS) while the broker held nothing: a buy stop that would open a long.
Own fills prove shares only when nothing else traded the symbol since the trade's first
fill; otherwise the broker's positions cap (engine/protect.py closable)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from tests.helpers import add_decision, entry, outcome
from trading_monitor.broker.models import OrderRequest

LIVE = {"new", "accepted", "held", "partially_filled", "pending_cancel"}


def test_no_stop_for_shares_the_flatten_and_the_trader_closed(db, jobs, broker, exchange):
    staged = jobs.with_settings(PROTECTION_MODE="staged", HAND_CANCEL_GRACE_SECONDS="0")
    d = add_decision(db, entry(side="SELL", trade_style="DAYTRADE", take_profit=None,
                               entry_price="179.00", stop_loss="186.00", quantity=4))
    staged.executor()  # marketable: short 4 at once
    jid = int(outcome(db, d)["trade_journal_id"])
    staged.order_monitor()
    for o in exchange.control.orders():  # the trader cancels our stop and buys back 2
        if o["status"] in LIVE and o["side"] == "buy":
            broker.cancel_order(o["id"])
    broker.submit_order(OrderRequest(client_order_id="by-hand-buy-2", symbol="AAPL",
                                     side="buy", qty=Decimal(2), order_type="market",
                                     time_in_force="day"))
    exchange.control.set_clock(datetime(2026, 11, 20, 20, 50, 30, tzinfo=timezone.utc))  # 15:50
    report = staged.order_monitor()

    assert [p for p in exchange.control.state()["positions"] if p["symbol"] == "AAPL"] == []
    live = [(o["client_order_id"], o["qty"]) for o in exchange.control.orders()
            if o["status"] in LIVE and o["symbol"] == "AAPL"]
    assert live == [], (live, report.actions)  # nothing left to protect, nothing placed
    assert db.get_by_id("trade_journal", jid)["status"] in ("POSITION", "CLOSED")
