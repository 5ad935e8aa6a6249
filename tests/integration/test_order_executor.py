"""The order executor end to end: real PostgreSQL, alpaca-py over HTTP to the paper exchange."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.helpers import add_decision, decision, entry, orders_at_broker, our_orders, outcome
from trading_monitor.db.connection import TradingDB


def test_new_trade_swing_goes_out_as_one_bracket(db, jobs, exchange):
    d = add_decision(db, entry(reasoning="breakout"))
    report = jobs.executor()

    result = outcome(db, d)
    assert result["terminal_state"] == "EXECUTED"
    assert "bracket" in result["reason"] and "AAPL" in result["reason"]
    coid = result["client_order_id"]
    assert coid.startswith("tm-") and coid.endswith(f"-d{d}-entry")

    [at_broker] = orders_at_broker(exchange, coid)
    assert at_broker["order_class"] == "bracket" and at_broker["limit_price"] == "175"
    legs = {o["order_type"]: o for o in exchange.control.orders() if o["id"] != at_broker["id"]}
    assert legs["stop"]["stop_price"] == "170" and legs["limit"]["limit_price"] == "190"
    assert {leg["status"] for leg in legs.values()} == {"held"}

    rows = {r["order_role"]: r for r in our_orders(db, d)}
    assert set(rows) == {"ENTRY", "STOP_LOSS", "TAKE_PROFIT"}
    assert rows["ENTRY"]["alpaca_order_id"] == at_broker["id"]
    assert rows["STOP_LOSS"]["alpaca_order_id"] == legs["stop"]["id"]
    assert rows["TAKE_PROFIT"]["alpaca_order_id"] == legs["limit"]["id"]
    assert rows["STOP_LOSS"]["order_status"] == "held"
    assert rows["STOP_LOSS"]["parent_order_execution_id"] == rows["ENTRY"]["id"]

    journal = db.get_by_id("trade_journal", rows["ENTRY"]["trade_journal_id"])
    assert journal["status"] == "PENDING" and journal["initial_analysis_id"] == d
    assert journal["planned_stop_loss"] == Decimal("170.00")
    row = decision(db, d)
    assert row["executed"] is True and row["execution_time"] is not None
    assert row["existing_order_id"] == at_broker["id"]
    assert row["existing_trade_journal_id"] == journal["id"]

    run_id = result["run_id"]
    assert journal["run_id"] == run_id and all(r["run_id"] == run_id for r in rows.values())
    job = db.query("job_run", {"run_id": run_id})[0]
    assert job["status"] == "SUCCEEDED" and job["summary"]["executed"] == 1
    assert job["broker_requests"] == report.broker_requests
    assert db.query("broker_snapshot", {"run_id": run_id})[0]["snapshot_type"] == "START"


def test_daytrade_short_goes_out_as_oto_with_stop_only(db, jobs, exchange):
    d = add_decision(db, entry("MSFT", side="SELL", trade_style="DAYTRADE", entry_price="425.00",
                               stop_loss="430.00", take_profit=None, quantity=None,
                               risk_amount="250"))
    jobs.executor()
    result = outcome(db, d)
    assert result["terminal_state"] == "EXECUTED", result["reason"]
    [order] = orders_at_broker(exchange, result["client_order_id"])
    assert order["order_class"] == "oto" and order["side"] == "sell"
    assert order["qty"] == "50" and order["time_in_force"] == "day"
    assert {r["order_role"] for r in our_orders(db, d)} == {"ENTRY", "STOP_LOSS"}


def test_staged_mode_sends_the_entry_alone(db, jobs, exchange):
    staged = jobs.with_settings(PROTECTION_MODE="staged")
    d = add_decision(db, entry())
    staged.executor()
    [row] = our_orders(db, d)
    assert row["order_role"] == "ENTRY" and row["order_class"] == "simple"
    assert [o["order_class"] for o in exchange.control.orders()] == ["simple"]


def test_no_unexecuted_decisions_costs_no_broker_request(jobs, exchange):
    exchange.control.reset_counters()
    report = jobs.executor()
    assert report.outcomes == [] and report.broker_requests == 0
    assert sum(exchange.control.counters().values()) == 0


def test_batch_in_id_order_and_broker_reads_do_not_grow(db, jobs, exchange):
    symbols = ["AAPL", "MSFT", "NVDA", "TSLA", "SPY", "AMD"]
    ids = [add_decision(db, entry(s, entry_price="100.00", stop_loss="95.00",
                                  take_profit="120.00", quantity=1)) for s in symbols]
    exchange.control.set_prices({s: "100.00" for s in symbols})
    exchange.control.reset_counters()
    report = jobs.executor()
    assert [o[0] for o in report.outcomes] == ids
    assert all(o[2] == "EXECUTED" for o in report.outcomes), report.outcomes
    counters = exchange.control.counters()
    assert counters["POST /v2/orders"] == len(symbols)
    fixed = counters["GET /v2/account"] + counters["GET /v2/positions"] + counters["GET /v2/clock"]
    assert fixed == 3  # per cycle, not per decision
    assert counters["GET /v2/stocks/snapshots"] == 1  # every symbol's snapshot at once


def test_already_executed_decisions_are_left_alone(db, jobs, exchange):
    add_decision(db, entry(), executed=True)
    report = jobs.executor()
    assert report.outcomes == [] and exchange.control.orders() == []


def test_null_executed_from_nocodb_counts_as_unexecuted(db, jobs):
    d = add_decision(db, entry())
    db.execute_update("ALTER TABLE analysis_decision ALTER COLUMN executed DROP NOT NULL")
    db.execute_update("UPDATE analysis_decision SET executed = NULL WHERE id = %s", [d])
    jobs.executor()
    assert outcome(db, d)["terminal_state"] == "EXECUTED"


def test_broker_rejection_is_terminal_with_the_brokers_message(db, jobs, exchange):
    loose = jobs.with_settings(CHECK_BUYING_POWER="false", MAX_NOTIONAL_PER_ORDER="off",
                               MAX_TOTAL_EXPOSURE="off")
    d = add_decision(db, entry(quantity=100000))
    loose.executor()
    result = outcome(db, d)
    assert result["terminal_state"] == "REJECTED"
    assert "buying power" in result["reason"]
    assert {r["order_status"] for r in our_orders(db, d)} == {"rejected"}
    journal = db.get_by_id("trade_journal", result["trade_journal_id"])
    assert journal["status"] == "REJECTED"
    assert decision(db, d)["executed"] is True
    assert exchange.control.orders() == []


def test_malformed_decisions_are_rejected_with_reasons(db, jobs, exchange):
    # Production tables often keep n8n's JSON as text, which can hold anything.
    db.execute_update("ALTER TABLE analysis_decision ALTER COLUMN decision TYPE text")
    bad = {
        add_decision(db, "{not json"): "not valid JSON",
        add_decision(db, entry(stop_loss=None)): "needs stop_loss",
        add_decision(db, entry(quantity=1.5)): "whole number",
        add_decision(db, entry(primary_action="BUY_EVERYTHING")): "primary_action",
        add_decision(db, entry(), ticker="MSFT"): "disagrees",
        add_decision(db, None, ticker="AAPL"): "primary_action",
    }
    jobs.executor()
    for d, words in bad.items():
        result = outcome(db, d)
        assert result["terminal_state"] == "REJECTED"
        assert words in result["reason"], result["reason"]
        assert decision(db, d)["executed"] is True
    assert exchange.control.orders() == []


def test_no_action_ages_the_linked_trade(db, jobs):
    first = add_decision(db, entry())
    jobs.executor()
    journal_id = outcome(db, first)["trade_journal_id"]
    by_symbol = add_decision(db, {"ticker": "AAPL", "primary_action": "NO_ACTION"})
    by_id = add_decision(db, {"ticker": "AAPL", "primary_action": "NO_ACTION",
                              "existing_trade_journal_id": journal_id})
    nothing = add_decision(db, {"ticker": "TSLA", "primary_action": "NO_ACTION"})
    jobs.executor()
    assert db.get_by_id("trade_journal", journal_id)["days_open"] == 2
    assert "now 2 day(s) open" in outcome(db, by_id)["reason"]
    assert outcome(db, by_symbol)["terminal_state"] == "EXECUTED"
    assert "no open trade" in outcome(db, nothing)["reason"]


def test_dry_run_records_what_it_would_send_and_sends_nothing(db, jobs, exchange):
    d = add_decision(db, entry())
    report = jobs.executor(dry_run=True)
    assert report.count("DRY_RUN") == 1 and "would submit buy 10 AAPL" in report.outcomes[0][3]
    assert exchange.control.orders() == []
    assert decision(db, d)["executed"] is False
    assert db.query("decision_outcome") == [] and db.query("order_execution") == []
    assert db.query("event_log") == [] and db.query("job_run") == []
    jobs.executor()
    assert outcome(db, d)["terminal_state"] == "EXECUTED"


@pytest.mark.parametrize("by", ["journal", "alpaca_id", "client_order_id"])
def test_cancel_withdraws_the_entry_and_its_legs(db, jobs, exchange, by):
    first = add_decision(db, entry())
    jobs.executor()
    placed = outcome(db, first)
    entry_row = [r for r in our_orders(db, first) if r["order_role"] == "ENTRY"][0]
    ref = {"journal": {"existing_trade_journal_id": placed["trade_journal_id"]},
           "alpaca_id": {"existing_order_id": entry_row["alpaca_order_id"]},
           "client_order_id": {"existing_order_id": entry_row["client_order_id"]}}[by]
    cancel = add_decision(db, {"ticker": "AAPL", "primary_action": "CANCEL",
                               "reasoning": "news", **ref})
    jobs.executor()
    result = outcome(db, cancel)
    assert result["terminal_state"] == "EXECUTED", result["reason"]
    statuses = {o["id"]: o["status"] for o in exchange.control.orders()}
    assert set(statuses.values()) == {"canceled"}
    assert {r["order_status"] for r in our_orders(db, first)} == {"canceled"}
    journal = db.get_by_id("trade_journal", placed["trade_journal_id"])
    assert journal["status"] == "CANCELLED" and journal["exit_date"] is not None
    assert "news" in journal["exit_reason"] and f"#{cancel}" in journal["exit_reason"]


def test_cancel_of_unknown_or_missing_ids_is_rejected(db, jobs):
    unknown = add_decision(db, {"ticker": "AAPL", "primary_action": "CANCEL",
                                "existing_order_id": "no-such-order"})
    missing = add_decision(db, {"ticker": "AAPL", "primary_action": "CANCEL"})
    no_trade = add_decision(db, {"ticker": "AAPL", "primary_action": "CANCEL",
                                 "existing_trade_journal_id": 999})
    jobs.executor()
    assert "no order no-such-order" in outcome(db, unknown)["reason"]
    assert "needs existing_order_id or existing_trade_journal_id" in outcome(db, missing)["reason"]
    assert "#999 does not exist" in outcome(db, no_trade)["reason"]
    for d in (unknown, missing, no_trade):
        assert outcome(db, d)["terminal_state"] == "REJECTED"


def test_cancel_after_fill_keeps_the_position(db, jobs, broker, exchange):
    first = add_decision(db, entry(entry_price="181.00", stop_loss="175.00",
                                   take_profit="195.00"))
    jobs.executor()  # marketable limit: fills at once
    journal_id = outcome(db, first)["trade_journal_id"]
    cancel = add_decision(db, {"ticker": "AAPL", "primary_action": "CANCEL",
                               "existing_trade_journal_id": journal_id})
    jobs.executor()
    result = outcome(db, cancel)
    assert result["terminal_state"] == "REJECTED"
    assert "too late to cancel" in result["reason"] and "position stays" in result["reason"]
    positions = broker.get_positions()
    assert [(p.symbol, p.qty) for p in positions] == [("AAPL", Decimal(10))]
    stop = [o for o in exchange.control.orders() if o["order_type"] == "stop"][0]
    # The stop still protects the position: Alpaca keeps a filled bracket's stop leg `held`
    # until its price trades.
    assert stop["status"] == "held"


def test_cancel_twice_is_skipped_the_second_time(db, jobs):
    first = add_decision(db, entry())
    jobs.executor()
    jid = outcome(db, first)["trade_journal_id"]
    c1 = add_decision(db, {"ticker": "AAPL", "primary_action": "CANCEL",
                           "existing_trade_journal_id": jid})
    c2 = add_decision(db, {"ticker": "AAPL", "primary_action": "CANCEL",
                           "existing_trade_journal_id": jid})
    jobs.executor()
    assert outcome(db, c1)["terminal_state"] == "EXECUTED"
    assert outcome(db, c2)["terminal_state"] == "SKIPPED"


def _amend(jid: int, **overrides) -> dict:
    body = {"primary_action": "AMEND", "entry_price": "176.50", "stop_loss": "171.00",
            "existing_trade_journal_id": jid}
    return entry(**{**body, **overrides})


def test_amend_cancels_then_places_and_keeps_the_chain(db, jobs, exchange):
    first = add_decision(db, entry())
    jobs.executor()
    old_journal = outcome(db, first)["trade_journal_id"]
    amend = add_decision(db, _amend(old_journal))
    jobs.executor()
    result = outcome(db, amend)
    assert result["terminal_state"] == "EXECUTED", result["reason"]
    assert result["reason"].startswith("amended: cancelled")
    new_journal = db.get_by_id("trade_journal", result["trade_journal_id"])
    old = db.get_by_id("trade_journal", old_journal)
    assert old["status"] == "CANCELLED" and old["replaced_by_trade_journal_id"] == new_journal["id"]
    assert new_journal["replaces_trade_journal_id"] == old_journal
    old_entry = [r for r in our_orders(db, first) if r["order_role"] == "ENTRY"][0]
    new_entry = [r for r in our_orders(db, amend) if r["order_role"] == "ENTRY"][0]
    assert old_entry["replaced_by_order_execution_id"] == new_entry["id"]
    assert new_entry["replaces_order_execution_id"] == old_entry["id"]
    live = [o for o in exchange.control.orders() if o["status"] in ("new", "held")]
    assert {o["client_order_id"] for o in live if o["order_class"] == "bracket"
            and o["order_type"] == "limit" and o["limit_price"] == "176.5"} == {
        new_entry["client_order_id"]}
    assert orders_at_broker(exchange, old_entry["client_order_id"])[0]["status"] == "canceled"


def test_amend_whose_new_order_is_rejected_records_both_halves(db, jobs, exchange):
    loose = jobs.with_settings(CHECK_BUYING_POWER="false", MAX_NOTIONAL_PER_ORDER="off",
                               MAX_TOTAL_EXPOSURE="off")
    first = add_decision(db, entry())
    loose.executor()
    jid = outcome(db, first)["trade_journal_id"]
    amend = add_decision(db, _amend(jid, quantity=100000))
    loose.executor()
    result = outcome(db, amend)
    assert result["terminal_state"] == "REJECTED"
    assert "original order cancelled, but the new order was rejected" in result["reason"]
    assert db.get_by_id("trade_journal", jid)["status"] == "CANCELLED"
    assert db.get_by_id("trade_journal", result["trade_journal_id"])["status"] == "REJECTED"
    assert all(o["status"] == "canceled" for o in exchange.control.orders())


def test_amend_after_fill_places_nothing_and_keeps_the_position(db, jobs, broker, exchange):
    first = add_decision(db, entry(entry_price="181.00", stop_loss="175.00",
                                   take_profit="195.00"))
    jobs.executor()
    jid = outcome(db, first)["trade_journal_id"]
    db.update("trade_journal", jid, {"status": "PENDING"})  # the order monitor has not run yet
    before = len(exchange.control.orders())
    amend = add_decision(db, _amend(jid))
    jobs.executor()
    result = outcome(db, amend)
    assert result["terminal_state"] == "REJECTED"
    assert "filled" in result["reason"] and "no new order placed" in result["reason"]
    assert len(exchange.control.orders()) == before
    assert [p.symbol for p in broker.get_positions()] == ["AAPL"]
    assert {r["order_status"] for r in our_orders(db, amend)} == {"not_sent"}


def test_amend_refused_by_checks_leaves_the_original_untouched(db, jobs, exchange):
    first = add_decision(db, entry())
    jobs.executor()
    jid = outcome(db, first)["trade_journal_id"]
    amend = add_decision(db, _amend(jid, stop_loss="180.00"))  # stop above entry
    jobs.executor()
    assert "original order stays" in outcome(db, amend)["reason"]
    assert db.get_by_id("trade_journal", jid)["status"] == "PENDING"
    assert all(o["status"] in ("new", "held") for o in exchange.control.orders())


def test_every_decision_ends_in_exactly_one_terminal_state(db, jobs):
    ids = [add_decision(db, entry(s, entry_price="100.00", stop_loss="95.00",
                                  take_profit="110.00", quantity=1))
           for s in ("AAPL", "MSFT", "ZZZZ")]
    ids.append(add_decision(db, "[]"))
    ids.append(add_decision(db, {"ticker": "AAPL", "primary_action": "NO_ACTION"}))
    jobs.executor()
    jobs.executor()
    rows = db.execute_query("SELECT analysis_decision_id, count(*) AS n FROM decision_outcome "
                            "GROUP BY 1 ORDER BY 1")
    assert rows == [{"analysis_decision_id": i, "n": 1} for i in ids]
    assert all(r["reason"] for r in db.query("decision_outcome"))
    assert db.execute_query("SELECT count(*) AS n FROM analysis_decision "
                            "WHERE executed IS NOT TRUE") == [{"n": 0}]


def test_rows_touched_carry_the_run_id(db: TradingDB, jobs):
    d = add_decision(db, entry())
    jobs.executor()
    run_id = outcome(db, d)["run_id"]
    events = db.query("event_log", {"run_id": run_id})
    assert {e["event"] for e in events} >= {"intent_written", "order_status", "terminal"}


def test_cancel_after_partial_fill_cancels_the_rest_and_keeps_the_shares(db, jobs, broker,
                                                                         exchange):
    exchange.control.set_partial_fill(symbol="AAPL", ratio="0.4")
    first = add_decision(db, entry(entry_price="181.00", stop_loss="175.00", take_profit="195.00"))
    jobs.executor()
    jid = outcome(db, first)["trade_journal_id"]
    cancel = add_decision(db, {"ticker": "AAPL", "primary_action": "CANCEL",
                               "existing_trade_journal_id": jid})
    jobs.executor()
    result = outcome(db, cancel)
    assert result["terminal_state"] == "EXECUTED", result["reason"]
    assert "cancelled the unfilled rest" in result["reason"] and "4 of 10" in result["reason"]
    assert [(p.symbol, p.qty) for p in broker.get_positions()] == [("AAPL", Decimal(4))]
    journal = db.get_by_id("trade_journal", jid)
    assert (journal["status"], journal["actual_qty"]) == ("POSITION", Decimal(4))
    # Cancelling one order of a bracket cancels its group (Alpaca's rule; what happens to
    # the legs of a partly filled entry is unconfirmed, the exchange plays "cancelled").
    # The legs' rows say so, so the order monitor sees 4 shares without a stop.
    legs = {r["order_role"]: r for r in our_orders(db, first)}
    assert legs["STOP_LOSS"]["order_status"] == "canceled"
