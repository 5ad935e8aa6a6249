"""A close by hand a second before the order monitor, with Alpaca's positions lagging
(found by the model's --slow run, seed 20261207). The trade's bracket legs went with the
close; the order monitor re-protects from its books, Alpaca refuses the OCO ("insufficient
qty available … available: 0"), and the emergency exit must not sell shares that are gone:
the lagging positions still show them, the refusal says what the broker has. Before the fix
the exit sold 7 and left the account 7 short."""

from __future__ import annotations

from tests.conftest import exchange_env
from tests.helpers import add_decision, entry, monitor, outcome, run
from trading_monitor.config import load_settings


def test_an_emergency_exit_after_a_close_by_hand_sells_nothing(db, db_params, broker,
                                                               exchange):
    # protected again at once after the legs went (no HAND_CANCEL_GRACE_SECONDS): the point
    # is what the emergency exit sells
    settings = load_settings(exchange_env(exchange, HAND_CANCEL_GRACE_SECONDS="0"),
                             need_broker=True)
    d = add_decision(db, entry(entry_price="181.00", quantity=7))  # marketable: fills at once
    run(db_params, broker, settings)
    jid = int(outcome(db, d)["trade_journal_id"])
    monitor(db_params, broker, settings)
    exchange.control.advance(60)
    exchange.control.close_position_manually("AAPL")  # the trader; our legs go with it
    exchange.control.set_position_lag(3)  # GET /v2/positions still shows the 7 shares
    monitor(db_params, broker, settings)

    assert [p for p in exchange.control.state()["positions"] if p["symbol"] == "AAPL"] == []
    exits = [o for o in exchange.control.orders() if o["client_order_id"].endswith("-exit")]
    assert exits == []  # no market sell for shares that are gone
    refused = db.execute_query(
        "SELECT order_status, broker_message FROM order_execution WHERE trade_journal_id = %s "
        "AND client_order_id LIKE %s", [jid, "%-stop_loss-2"])
    assert refused and refused[0]["order_status"] == "rejected"
    assert "available: 0" in refused[0]["broker_message"]
