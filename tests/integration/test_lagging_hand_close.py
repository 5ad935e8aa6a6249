"""A close by hand a second before the order monitor, with Alpaca's positions lagging
(found by the model's --slow run, seed 20261207). The trade's bracket legs went with the
close; the order monitor re-protected from its books, Alpaca refused the OCO ("insufficient
qty available … available: 0"), and the emergency exit must not sell shares that are gone:
the lagging positions still show them. Before the first fix the exit sold 7 and left the
account 7 short. Now the trader's own fill, a second old, caps the new stop at what his hand
left (engine/protect.closable): none is sent at all."""

from __future__ import annotations

from tests.helpers import add_decision, entry, outcome


def test_an_emergency_exit_after_a_close_by_hand_sells_nothing(db, jobs, exchange):
    # protected again at once after the legs went (no HAND_CANCEL_GRACE_SECONDS): the point
    # is what the emergency exit sells
    no_grace = jobs.with_settings(HAND_CANCEL_GRACE_SECONDS="0")
    d = add_decision(db, entry(entry_price="181.00", quantity=7))  # marketable: fills at once
    no_grace.executor()
    jid = int(outcome(db, d)["trade_journal_id"])
    no_grace.order_monitor()
    exchange.control.advance(60)
    exchange.control.close_position_manually("AAPL")  # the trader; our legs go with it
    exchange.control.set_position_lag(3)  # GET /v2/positions still shows the 7 shares
    no_grace.order_monitor()

    assert [p for p in exchange.control.state()["positions"] if p["symbol"] == "AAPL"] == []
    exits = [o for o in exchange.control.orders() if o["client_order_id"].endswith("-exit")]
    assert exits == []  # no market sell for shares that are gone
    # The trader's fill a second ago says what his hand took: no new stop for those shares
    # (before, one went out on the lagging positions and Alpaca refused it, "available: 0").
    again = [o for o in exchange.control.orders() if "-stop_loss-" in o["client_order_id"]]
    assert again == []
    assert db.get_by_id("trade_journal", jid)["status"] in ("POSITION", "CLOSED")
