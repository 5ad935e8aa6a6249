"""Never a duplicate order, never a lost decision: lost responses, 429 storms, two executors,
crashes between claim and record, and a corpus of malformed decisions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from tests.conftest import exchange_env
from tests.helpers import (
    add_decision,
    decision,
    entry,
    exchange_now,
    ledger,
    orders_at_broker,
    our_orders,
    outcome,
    write_test_intent,
)
from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.transport import RequestBudget
from trading_monitor.db.connection import TradingDB
from trading_monitor.ledger import order_request

NO_LIMITS = {"MAX_NOTIONAL_PER_ORDER": "off", "MAX_OPEN_POSITIONS": "off",
             "MAX_TOTAL_EXPOSURE": "off", "BLOCK_DUPLICATE_ENTRY": "false"}
SYMBOLS = ["AAPL", "MSFT", "NVDA", "TSLA", "SPY", "AMD"]


def _at_100(exchange) -> None:
    exchange.control.set_prices({s: "100.00" for s in SYMBOLS})


def _small(symbol: str) -> dict:
    return entry(symbol, entry_price="100.00", stop_loss="95.00", take_profit="120.00",
                 quantity=1)


def _entry_coids(db: TradingDB) -> list[str]:
    return [r["client_order_id"] for r in db.query("order_execution", {"order_role": "ENTRY"})]


def _assert_one_broker_order_per_entry(db: TradingDB, exchange) -> None:
    at_broker = Counter(o["client_order_id"] for o in exchange.control.orders())
    for coid in _entry_coids(db):
        assert at_broker[coid] <= 1, f"{coid} sent {at_broker[coid]} times"
    executed = db.query("decision_outcome", {"terminal_state": "EXECUTED"})
    for row in executed:
        assert at_broker[row["client_order_id"]] == 1


def test_lost_response_on_submit_ends_in_exactly_one_order(db, db_params, broker, settings,
                                                           jobs, exchange):
    d = add_decision(db, entry())
    exchange.control.set_fault("POST /v2/orders", "lost_response", count=1)
    exchange.control.reset_counters()
    jobs.executor()
    result = outcome(db, d)
    assert result["terminal_state"] == "EXECUTED"
    assert len(orders_at_broker(exchange, result["client_order_id"])) == 1
    counters = exchange.control.counters()
    assert counters["POST /v2/orders"] == 1
    assert counters["GET /v2/orders:by_client_order_id"] >= 1
    entry_row = [r for r in our_orders(db, d) if r["order_role"] == "ENTRY"][0]
    assert entry_row["alpaca_order_id"] == orders_at_broker(exchange,
                                                            result["client_order_id"])[0]["id"]


def test_persistent_5xx_defers_and_the_next_cycle_finishes(db, db_params, broker, settings,
                                                           jobs, exchange):
    d = add_decision(db, entry())
    exchange.control.set_fault("POST /v2/orders", "http_status", status=500, count=1000)
    report = jobs.executor()
    assert report.count("DEFERRED") == 1
    assert decision(db, d)["executed"] is False
    [row] = [r for r in our_orders(db, d) if r["order_role"] == "ENTRY"]
    assert row["order_status"] == "pending_submit" and "500" in row["broker_message"]
    assert db.query("decision_outcome") == []
    job = db.query("job_run")[0]
    assert job["status"] == "PARTIAL"
    exchange.control.clear_faults()
    jobs.executor()
    assert outcome(db, d)["terminal_state"] == "EXECUTED"
    assert len(orders_at_broker(exchange, row["client_order_id"])) == 1


def test_429_storm_every_decision_terminal_none_duplicated(db, jobs, exchange):
    jobs = jobs.with_settings(**NO_LIMITS)
    jobs = jobs.with_broker(AlpacaBroker(jobs.settings, budget=RequestBudget(100_000),
                                         sleep=lambda s: None))  # a storm that does not sleep
    _at_100(exchange)
    ids = [add_decision(db, _small(SYMBOLS[i % len(SYMBOLS)])) for i in range(24)]
    exchange.control.set_fault("*", "http_status", status=429, retry_after=0, probability=0.4)
    cycles = 0
    while db.execute_query("SELECT count(*) AS n FROM analysis_decision "
                           "WHERE executed IS NOT TRUE")[0]["n"] and cycles < 15:
        jobs.executor()
        cycles += 1
    exchange.control.clear_faults()
    assert cycles >= 1
    assert {outcome(db, i)["terminal_state"] for i in ids} == {"EXECUTED"}
    _assert_one_broker_order_per_entry(db, exchange)
    assert len({o["client_order_id"] for o in exchange.control.orders()
                if o["order_class"] == "bracket" and o["order_type"] == "limit"
                and o["limit_price"] == "100"}) == 24


def test_two_executors_at_once_submit_each_decision_exactly_once(db, jobs, exchange):
    _at_100(exchange)
    ids = [add_decision(db, _small(SYMBOLS[i % len(SYMBOLS)])) for i in range(200)]
    reports = []
    errors: list[BaseException] = []

    def executor() -> None:
        try:
            # each its own broker, on the same settings
            reports.append(jobs.with_settings(**NO_LIMITS).executor())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=executor) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert errors == []
    handled = [o[0] for r in reports for o in r.outcomes]
    assert sorted(handled) == ids  # each decision handled by exactly one executor
    # They queue on the executor's advisory lock: the second finds the work done.
    assert sorted(len(r.outcomes) for r in reports) == [0, 200]
    assert {outcome(db, i)["terminal_state"] for i in ids} == {"EXECUTED"}
    coids = Counter(o["client_order_id"] for o in exchange.control.orders())
    entries = _entry_coids(db)
    assert len(entries) == 200 and all(coids[c] == 1 for c in entries)
    intents = db.query("event_log", {"event": "intent_written"})
    assert len(intents) == 200


# -- crashes between the claim and the record ----------------------------------------------

def _intent_for(db: TradingDB, d: int):
    return write_test_intent(db, d)


def test_crash_after_intent_before_submit(db, db_params, broker, settings, jobs, exchange):
    d = add_decision(db, entry())
    intent = _intent_for(db, d)
    exchange.control.reset_counters()
    jobs.executor()
    assert outcome(db, d)["terminal_state"] == "EXECUTED"
    assert len(orders_at_broker(exchange, intent.client_order_id)) == 1
    counters = exchange.control.counters()
    assert counters["GET /v2/orders:by_client_order_id"] == 1  # looked before sending
    assert counters["POST /v2/orders"] == 1


def test_crash_after_submit_before_record(db, db_params, broker, settings, jobs, exchange):
    d = add_decision(db, entry())
    intent = _intent_for(db, d)
    sent = broker.submit_order(order_request(intent))
    exchange.control.reset_counters()
    jobs.executor()
    result = outcome(db, d)
    assert result["terminal_state"] == "EXECUTED"
    assert exchange.control.counters().get("POST /v2/orders", 0) == 0
    assert len(orders_at_broker(exchange, intent.client_order_id)) == 1
    assert decision(db, d)["existing_order_id"] == sent.id
    legs = {r["order_role"]: r["alpaca_order_id"] for r in our_orders(db, d)}
    assert all(legs.values())


def test_crash_after_record_before_terminal_state(db, db_params, broker, settings, jobs, exchange):
    d = add_decision(db, entry())
    intent = _intent_for(db, d)
    ledger(db).record_order(intent.entry, broker.submit_order(order_request(intent)))
    exchange.control.reset_counters()
    jobs.executor()
    assert outcome(db, d)["terminal_state"] == "EXECUTED"
    assert exchange.control.counters().get("POST /v2/orders", 0) == 0


def test_crash_after_outcome_before_executed_flag(db, db_params, broker, settings, jobs, exchange):
    d = add_decision(db, entry())
    db.insert("decision_outcome", {"run_id": "crashed-run", "analysis_decision_id": d,
                                   "terminal_state": "REJECTED", "reason": "earlier verdict"})
    jobs.executor()
    assert decision(db, d)["executed"] is True
    assert outcome(db, d)["reason"] == "earlier verdict"
    assert exchange.control.orders() == []


def test_sigkill_mid_submit_then_restart_finishes_with_one_order(db, db_params, jobs, exchange,
                                                                 tmp_path):
    """A real process killed while its order POST is in flight (the broker still takes it)."""
    d = add_decision(db, entry())
    exchange.control.set_fault("POST /v2/orders", "hang", seconds=1.5, count=1)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA", "POSTGRES"))}
    env.update(exchange_env(exchange))
    env["DATABASE_URL"] = (f"postgresql://{db_params['user']}@{db_params['host']}:"
                           f"{db_params['port']}/{db_params['dbname']}")
    proc = subprocess.Popen([sys.executable, "-m", "trading_monitor.order_executor"], env=env,
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while not db.query("order_execution") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # the POST is now hanging at the exchange
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert decision(db, d)["executed"] is False
    deadline = time.monotonic() + 10
    while not exchange.control.orders() and time.monotonic() < deadline:
        time.sleep(0.05)  # the exchange finishes the orphaned request, as Alpaca would
    [row] = [r for r in our_orders(db, d) if r["order_role"] == "ENTRY"]
    assert row["order_status"] == "pending_submit" and row["alpaca_order_id"] is None
    assert len(orders_at_broker(exchange, row["client_order_id"])) == 1  # at broker, unrecorded

    jobs.with_settings().executor()  # a fresh broker, as a restarted process has
    assert outcome(db, d)["terminal_state"] == "EXECUTED"
    assert len(orders_at_broker(exchange, row["client_order_id"])) == 1


# -- a generated corpus of malformed decisions ----------------------------------------------

_junk = st.one_of(
    st.none(), st.booleans(), st.text(max_size=8), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.sampled_from(["-5", "0", "NaN", "Infinity", "1e999", "12.5.1", ""]))
_required = ["ticker", "primary_action", "side", "trade_style", "entry_price", "stop_loss",
             "take_profit"]


@st.composite
def malformed(draw):
    body = entry(draw(st.sampled_from(SYMBOLS)))
    field = draw(st.sampled_from(_required))
    value = draw(_junk.filter(lambda v: v is None or not isinstance(v, str)
                              or v.strip().upper() not in {"AAPL", "MSFT", "NVDA", "TSLA",
                                                           "SPY", "AMD"}))
    if field == "take_profit" and value is None:
        value = "-1"  # SWING needs one; None alone would leave a valid-looking plan
    body[field] = value
    if draw(st.booleans()):
        body["quantity"] = draw(st.sampled_from([0, -3, 2.5, "ten", True]))
    return body


@given(st.lists(malformed(), min_size=60, max_size=60))
@hyp_settings(max_examples=1, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow, HealthCheck.data_too_large])
def test_malformed_corpus_all_rejected_nothing_sent(db, db_params, broker, settings, jobs, exchange,
                                                    bodies):
    db.execute_update("TRUNCATE analysis_decision, decision_outcome, order_execution, "
                      "trade_journal RESTART IDENTITY")
    ids = [add_decision(db, b, ticker=None, primary_action=None) for b in bodies]
    jobs.executor()
    for i in ids:
        result = outcome(db, i)
        assert result["terminal_state"] == "REJECTED", (decision(db, i)["decision"], result)
        assert len(result["reason"]) > 10
    assert exchange.control.orders() == []


# -- stale work is never sent ----------------------------------------------------------------

def test_stale_decision_is_rejected_not_sent(db, db_params, broker, settings, jobs, exchange):
    d = add_decision(db, entry())
    db.execute_update("UPDATE analysis_decision SET created_at = %s - interval '3 days' "
                      "WHERE id = %s", [exchange_now(), d])
    jobs.executor()
    result = outcome(db, d)
    assert result["terminal_state"] == "REJECTED"
    assert "stale decision: written 72.0h ago, older than MAX_DECISION_AGE_HOURS=24.0h" in (
        result["reason"])
    assert exchange.control.orders() == []
    relaxed = jobs.with_settings(MAX_DECISION_AGE_HOURS="off").with_broker(jobs.broker)
    d2 = add_decision(db, entry("MSFT", entry_price="410.00", stop_loss="400.00",
                                take_profit="440.00", quantity=1))
    db.execute_update("UPDATE analysis_decision SET created_at = %s - interval '3 days' "
                      "WHERE id = %s", [exchange_now(), d2])
    relaxed.executor()
    assert outcome(db, d2)["terminal_state"] == "EXECUTED"


def test_intent_unsent_for_too_long_is_withdrawn(db, db_params, broker, settings, jobs, exchange):
    d = add_decision(db, entry())
    intent = _intent_for(db, d)
    db.execute_update("UPDATE order_execution SET created_at = %s - interval '2 hours'",
                      [exchange_now()])
    jobs.executor()
    result = outcome(db, d)
    assert result["terminal_state"] == "REJECTED"
    assert "MAX_UNSENT_ORDER_MINUTES=30" in result["reason"]
    assert "stale orders are never sent" in result["reason"]
    assert {r["order_status"] for r in our_orders(db, d)} == {"not_sent"}
    assert db.get_by_id("trade_journal", intent.journal_id)["status"] == "REJECTED"
    assert exchange.control.orders() == []


def test_an_old_intent_already_at_the_broker_is_adopted(db, db_params, broker, settings,
                                                        jobs, exchange):
    d = add_decision(db, entry())
    intent = _intent_for(db, d)
    broker.submit_order(order_request(intent))
    db.execute_update("UPDATE order_execution SET created_at = %s - interval '2 hours'",
                      [exchange_now()])
    jobs.executor()
    assert outcome(db, d)["terminal_state"] == "EXECUTED"
    assert len(orders_at_broker(exchange, intent.client_order_id)) == 1


def test_stale_amend_leaves_the_original_order(db, db_params, broker, settings, jobs, exchange):
    first = add_decision(db, entry())
    jobs.executor()
    jid = outcome(db, first)["trade_journal_id"]
    amend = add_decision(db, entry(primary_action="AMEND", entry_price="176.50",
                                   existing_trade_journal_id=jid))
    db.execute_update("UPDATE analysis_decision SET created_at = %s - interval '2 days' "
                      "WHERE id = %s", [exchange_now(), amend])
    jobs.executor()
    assert "the original order stays as it was" in outcome(db, amend)["reason"]
    assert db.get_by_id("trade_journal", jid)["status"] == "PENDING"
    assert {o["status"] for o in exchange.control.orders()} == {"new", "held"}
