"""Broker requests per action, counted at the exchange: the figures docs/order-executor.md
quotes. Per-cycle reads (account, positions, clock, one market snapshot) are paid once
per cycle, whatever the number of decisions."""

from __future__ import annotations

from tests.helpers import add_decision, entry, outcome


def _requests(exchange) -> dict[str, int]:
    return {k: v for k, v in exchange.control.counters().items() if " /v2/" in k}


def _placed(db, jobs) -> int:
    first = add_decision(db, entry())
    jobs.executor()
    return int(outcome(db, first)["trade_journal_id"])


def test_new_trade_costs_one_post_plus_the_cycle_reads(db, jobs, exchange):
    add_decision(db, entry())
    exchange.control.reset_counters()
    jobs.executor()
    assert _requests(exchange) == {
        "GET /v2/account": 1, "GET /v2/positions": 1, "GET /v2/clock": 1,
        "GET /v2/account/activities": 1,  # today's deposits and withdrawals (daily loss)
        "GET /v2/stocks/snapshots": 1, "GET /v2/assets/{symbol_or_asset_id}": 1,
        "POST /v2/orders": 1}


def test_cancel_costs_a_read_a_delete_and_a_read_back(db, jobs, exchange):
    jid = _placed(db, jobs)
    add_decision(db, {"ticker": "AAPL", "primary_action": "CANCEL",
                      "existing_trade_journal_id": jid})
    exchange.control.reset_counters()
    jobs.executor()
    assert _requests(exchange) == {"GET /v2/orders/{id}": 2, "DELETE /v2/orders/{id}": 1}


def test_amend_costs_the_cancel_the_cycle_reads_and_one_post(db, jobs, exchange):
    jid = _placed(db, jobs)
    add_decision(db, entry(primary_action="AMEND", entry_price="176.50",
                           existing_trade_journal_id=jid))
    exchange.control.reset_counters()
    jobs.executor()
    assert _requests(exchange) == {
        "GET /v2/account": 1, "GET /v2/positions": 1, "GET /v2/clock": 1,
        "GET /v2/account/activities": 1,
        "GET /v2/stocks/snapshots": 1, "GET /v2/assets/{symbol_or_asset_id}": 1,
        "GET /v2/orders/{id}": 2, "DELETE /v2/orders/{id}": 1, "POST /v2/orders": 1}


def test_an_idle_cycle_costs_nothing(db, jobs, exchange):
    exchange.control.reset_counters()
    jobs.executor()
    assert _requests(exchange) == {}
