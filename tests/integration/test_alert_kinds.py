"""Alert kinds and their rate limit per (kind, subject): one trade's alert never holds back
another's, a halt and a fatal error are always sent, and a call site that names no kind
still alerts. Deliveries are read from the `alert` table and a local json:// endpoint."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.helpers import add_decision, entry, outcome
from trading_monitor.ledger.alerts import KINDS, AlertHandler, Alerts, alert

# Every kind, and whether it is rate-limited per subject. A new kind, or a kind that stops
# being rate-limited, is a decision: change this table with it.
EXPECTED_KINDS = {
    "unprotected": True,
    "emergency_flatten": True,
    "exit_failed": True,
    "order_not_placed": True,
    "untracked_position": True,
    "decision_deferred": True,
    "halt": False,
    "fatal": False,
    "job_failing": True,
    "job_deadline": True,
    "leadership_lost": True,
    "leader_stale": True,
    "startup_reconciliation": True,
    "broker_contract": True,
    "broker_unknown_value": True,
    "account_mismatch": True,
    "reconciliation_incident": False,
    "corporate_action": True,
    "operator": False,
    "exit_working": True,
    "resting_stop": True,
    "symbol_halt": True,
}


def test_every_alert_kind_is_pinned():
    assert {name: kind.rate_limited for name, kind in KINDS.items()} == EXPECTED_KINDS


def test_an_unknown_kind_is_refused_at_the_call_site():
    with pytest.raises(ValueError, match="unknown alert kind"):
        alert(logging.getLogger("trading_monitor.test"), "unprotectd", "trade #1", "typo")


@pytest.fixture
def handler(db, endpoint) -> Iterator[AlertHandler]:
    """The daemon's alert handler on the root logger, sending to the local endpoint."""
    installed = AlertHandler(Alerts(db, [endpoint.url], min_interval=timedelta(minutes=15)))
    root = logging.getLogger()
    root.addHandler(installed)
    try:
        yield installed
    finally:
        root.removeHandler(installed)


def _deliveries(db) -> list[tuple[str, str]]:
    return [(r["kind"], r["delivery"]) for r in db.query("alert")]


def _subjects(db, text: str) -> list[tuple[str, str]]:
    """(subject, delivery) of the alerts whose message says `text`."""
    return [(r["kind"].split(":", 1)[1], r["delivery"]) for r in db.query("alert")
            if text in r["message"]]


def _refused_stop_trade(db, jobs, exchange, symbol: str) -> int:
    """A staged DAYTRADE whose protective stop the broker refuses (403)."""
    d = add_decision(db, entry(symbol, trade_style="DAYTRADE", take_profit=None,
                               entry_price="181.00" if symbol == "AAPL" else "421.00",
                               stop_loss="175.00" if symbol == "AAPL" else "410.00"))
    jobs.executor()
    jid = int(outcome(db, d)["trade_journal_id"])
    exchange.control.set_fault("POST /v2/orders", "http_status", status=403, count=1)
    jobs.order_monitor()
    return jid


def test_a_second_trade_that_cannot_be_protected_is_alerted_too(
        db, jobs, exchange, handler, endpoint):
    """The defect: alerts were rate-limited per logger, so the second trade's "could not be
    protected" within 15 minutes was stored as suppressed and never sent."""
    jobs = jobs.with_settings(PROTECTION_MODE="staged", BLOCK_DUPLICATE_ENTRY="false")
    first = _refused_stop_trade(db, jobs, exchange, "AAPL")
    second = _refused_stop_trade(db, jobs, exchange, "MSFT")
    # The subject is the trade, whether the call site names it or the fallback finds it.
    assert _subjects(db, "could not be protected") == [(f"trade #{first}", "sent"),
                                                       (f"trade #{second}", "sent")]
    sent = [m["message"] for m in endpoint.received]
    assert any(f"trade #{first} could not be protected" in m for m in sent)
    assert any(f"trade #{second} could not be protected" in m for m in sent)


def test_the_same_trade_is_alerted_once_per_interval(db, jobs, exchange, handler, endpoint):
    jobs = jobs.with_settings(PROTECTION_MODE="staged", STOP_FAILURE_ACTION="retry")
    d = add_decision(db, entry(trade_style="DAYTRADE", take_profit=None, entry_price="181.00",
                               stop_loss="175.00"))
    jobs.executor()
    jid = int(outcome(db, d)["trade_journal_id"])
    exchange.control.set_fault("POST /v2/orders", "http_status", status=403, count=2)
    jobs.order_monitor()
    jobs.order_monitor()
    assert _subjects(db, "unprotected, retried") == [(f"trade #{jid}", "sent"),
                                                      (f"trade #{jid}", "suppressed")]
    assert len(endpoint.received) == 1


def test_kinds_and_subjects_set_explicitly(db, handler, endpoint):
    log = logging.getLogger("trading_monitor.test")
    alert(log, "unprotected", "trade #4", "trade #4 AAPL has no live stop")
    alert(log, "unprotected", "trade #4", "trade #4 AAPL still has no stop")
    alert(log, "unprotected", "trade #5", "trade #5 MSFT has no live stop")
    for _ in range(2):  # a halt set, cleared and set again is news both times
        alert(log, "halt", "halt_reconciliation", "new entries halted (reconciliation)")
    alert(log, "fatal", "order_executor", "fatal error: 401")
    alert(log, "fatal", "order_executor", "fatal error: 401")
    # The same two keys through logging's extra= work the same way.
    log.error("ALERT order_monitor has failed 3 times in a row",
              extra={"alert_kind": "job_failing", "alert_subject": "order_monitor"})
    assert _deliveries(db) == [
        ("unprotected:trade #4", "sent"), ("unprotected:trade #4", "suppressed"),
        ("unprotected:trade #5", "sent"),
        ("halt:halt_reconciliation", "sent"), ("halt:halt_reconciliation", "sent"),
        ("fatal:order_executor", "sent"), ("fatal:order_executor", "sent"),
        ("job_failing:order_monitor", "sent")]
    assert len(endpoint.received) == 7
    assert endpoint.received[0]["title"] == "trading-monitor: unprotected:trade #4"


def test_a_call_site_without_a_kind_falls_back_to_its_logger_and_message(db, handler):
    log = logging.getLogger("trading_monitor.somewhere")
    log.error("ALERT decision #7 deferred 20 times; rejected: market closed")
    log.error("ALERT something odd happened")
    log.error("ALERT something odd happened")
    log.error("not an alert at all")
    assert _deliveries(db) == [
        ("trading_monitor.somewhere:decision #7", "sent"),
        ("trading_monitor.somewhere:ALERT something odd happened", "sent"),
        ("trading_monitor.somewhere:ALERT something odd happened", "suppressed")]
