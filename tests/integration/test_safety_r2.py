"""R2: the end-of-day flatten must not sell the same shares twice while Alpaca's positions lag.

At 15:50 the order monitor and the eod_flatten job fire together. The first sells a day
trade at market; the second must not take the just-sold shares, still listed by a lagging
`GET /v2/positions`, for an untracked position and sell them again (leaving the account
short overnight). Untracked positions wait out RECONCILE_GRACE_SECONDS, like reconciliation.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from tests.helpers import add_decision, entry, outcome
from tests.support.jobs import Jobs
from trading_monitor.broker.models import OrderRequest

D = Decimal
AT_1550 = datetime(2026, 11, 20, 20, 50, tzinfo=timezone.utc)


def _jobs(jobs: Jobs, **env) -> Jobs:
    return jobs.with_settings(FLATTEN_UNTRACKED="true", **env)


def _day_trade(db, jobs) -> int:
    d = add_decision(db, entry(trade_style="DAYTRADE", entry_price="181.00",
                               stop_loss="175.00", take_profit=None))
    jobs.executor()
    assert outcome(db, d)["terminal_state"] == "EXECUTED", outcome(db, d)["reason"]
    return int(outcome(db, d)["trade_journal_id"])


def _market_sells(exchange, symbol="AAPL"):
    return [(o["client_order_id"], o["qty"], o["status"]) for o in exchange.control.orders()
            if o["symbol"] == symbol and o["side"] == "sell" and o["order_type"] == "market"]


def _positions(exchange):
    return {p["symbol"]: D(p["qty"]) for p in exchange.control.state()["positions"]}


def test_the_eod_flatten_sells_a_day_trade_once_while_positions_lag(db, jobs, exchange):
    jobs = _jobs(jobs, PROTECTION_MODE="staged")
    jid = _day_trade(db, jobs)
    jobs.order_monitor()  # the position and its stop
    exchange.control.set_clock(AT_1550)
    exchange.control.set_position_lag(5)
    first = jobs.order_monitor()  # the 15:50 order-monitor run: sells 10
    second = jobs.order_monitor()  # eod_flatten, a second later
    exchange.control.advance(2)
    third = jobs.order_monitor()  # 15:55 style: still within the lag
    exchange.control.set_position_lag(0)
    exchange.control.advance(120)
    jobs.order_monitor()  # past the grace: nothing is left to adopt
    runs = [first.actions, second.actions, third.actions]
    assert len(_market_sells(exchange)) == 1, (runs, _market_sells(exchange))
    assert _positions(exchange) == {}, runs  # flat, never short
    assert db.query("trade_journal", {"origin": "EXTERNAL"}) == [], runs
    journal = db.get_by_id("trade_journal", jid)
    assert (journal["status"], journal["exit_reason_code"]) == ("CLOSED", "EOD_FLATTEN")


def test_a_real_untracked_position_is_still_flattened_once_past_the_grace(db, jobs,
                                                                          broker, exchange):
    jobs = _jobs(jobs, PROTECTION_MODE="staged")
    broker.submit_order(OrderRequest(client_order_id="by-hand-1", symbol="MSFT", side="buy",
                                     qty=D(3), order_type="market", time_in_force="day"))
    exchange.control.advance(1)
    exchange.control.set_clock(AT_1550)
    first = jobs.order_monitor()  # first seen: waits out the grace
    assert _positions(exchange) == {"MSFT": D(3)}, first.actions
    assert db.query("trade_journal", {"origin": "EXTERNAL"}) == []
    exchange.control.advance(61)
    jobs.order_monitor()
    exchange.control.advance(1)
    jobs.order_monitor()
    [journal] = db.query("trade_journal", {"origin": "EXTERNAL"})
    assert (journal["symbol"], journal["status"], journal["exit_reason_code"]) == (
        "MSFT", "CLOSED", "EOD_FLATTEN")
    assert _positions(exchange) == {}
    assert [q for _, q, _ in _market_sells(exchange, "MSFT")] == ["3"]
