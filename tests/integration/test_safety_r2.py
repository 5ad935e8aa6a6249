"""R2: the end-of-day flatten must not sell the same shares twice while Alpaca's positions lag.

At 15:50 the order monitor and the eod_flatten job fire together. The first sells a day
trade at market; the second must not take the just-sold shares, still listed by a lagging
`GET /v2/positions`, for an untracked position and sell them again (leaving the account
short overnight). Untracked positions wait out RECONCILE_GRACE_SECONDS, like reconciliation.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from tests.conftest import exchange_env
from tests.helpers import add_decision, entry, monitor, outcome, run
from trading_monitor.broker.models import OrderRequest
from trading_monitor.settings.config import load_settings

D = Decimal
AT_1550 = datetime(2026, 11, 20, 20, 50, tzinfo=timezone.utc)


def _settings(exchange, **env):
    return load_settings(exchange_env(exchange, FLATTEN_UNTRACKED="true", **env),
                         need_broker=True)


def _day_trade(db, db_params, broker, settings) -> int:
    d = add_decision(db, entry(trade_style="DAYTRADE", entry_price="181.00",
                               stop_loss="175.00", take_profit=None))
    run(db_params, broker, settings)
    assert outcome(db, d)["terminal_state"] == "EXECUTED", outcome(db, d)["reason"]
    return int(outcome(db, d)["trade_journal_id"])


def _market_sells(exchange, symbol="AAPL"):
    return [(o["client_order_id"], o["qty"], o["status"]) for o in exchange.control.orders()
            if o["symbol"] == symbol and o["side"] == "sell" and o["order_type"] == "market"]


def _positions(exchange):
    return {p["symbol"]: D(p["qty"]) for p in exchange.control.state()["positions"]}


def test_the_eod_flatten_sells_a_day_trade_once_while_positions_lag(db, db_params, broker,
                                                                    exchange):
    settings = _settings(exchange, PROTECTION_MODE="staged")
    jid = _day_trade(db, db_params, broker, settings)
    monitor(db_params, broker, settings)  # the position and its stop
    exchange.control.set_clock(AT_1550)
    exchange.control.set_position_lag(5)
    first = monitor(db_params, broker, settings)  # the 15:50 order-monitor run: sells 10
    second = monitor(db_params, broker, settings)  # eod_flatten, a second later
    exchange.control.advance(2)
    third = monitor(db_params, broker, settings)  # 15:55 style: still within the lag
    exchange.control.set_position_lag(0)
    exchange.control.advance(120)
    monitor(db_params, broker, settings)  # past the grace: nothing is left to adopt
    runs = [first.actions, second.actions, third.actions]
    assert len(_market_sells(exchange)) == 1, (runs, _market_sells(exchange))
    assert _positions(exchange) == {}, runs  # flat, never short
    assert db.query("trade_journal", {"origin": "EXTERNAL"}) == [], runs
    journal = db.get_by_id("trade_journal", jid)
    assert (journal["status"], journal["exit_reason_code"]) == ("CLOSED", "EOD_FLATTEN")


def test_a_real_untracked_position_is_still_flattened_once_past_the_grace(db, db_params,
                                                                          broker, exchange):
    settings = _settings(exchange, PROTECTION_MODE="staged")
    broker.submit_order(OrderRequest(client_order_id="by-hand-1", symbol="MSFT", side="buy",
                                     qty=D(3), order_type="market", time_in_force="day"))
    exchange.control.advance(1)
    exchange.control.set_clock(AT_1550)
    first = monitor(db_params, broker, settings)  # first seen: waits out the grace
    assert _positions(exchange) == {"MSFT": D(3)}, first.actions
    assert db.query("trade_journal", {"origin": "EXTERNAL"}) == []
    exchange.control.advance(61)
    monitor(db_params, broker, settings)
    exchange.control.advance(1)
    monitor(db_params, broker, settings)
    [journal] = db.query("trade_journal", {"origin": "EXTERNAL"})
    assert (journal["symbol"], journal["status"], journal["exit_reason_code"]) == (
        "MSFT", "CLOSED", "EOD_FLATTEN")
    assert _positions(exchange) == {}
    assert [q for _, q, _ in _market_sells(exchange, "MSFT")] == ["3"]
