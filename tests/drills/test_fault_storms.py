"""Broker fault storms: a realistic book of decisions run through the real jobs (executor,
order monitor, position monitor; in-process, over real HTTP) while the paper exchange
injects one kind of fault, then all of them at once with seeded probabilities.

A storm runs STORM_ROUNDS cycles of the three jobs while the market moves (an entry fills,
a stop is hit, a trail step is due, a cancel and an amend arrive); a job that raises is
counted, as the daemon counts it, and the next one runs. Then the storm clears, the jobs
run CALM_ROUNDS more cycles, and: every decision is terminal, the exchange holds no second
entry for any decision and no unprotected or over-protected position, and the invariant
checker passes (tests/drills/support.py). The faults injected are the exchange's own
counts (GET /control/fault_counts), printed for docs/reliability.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.drills.support import assert_books_hold
from tests.helpers import add_decision, entry, exchange_now
from tests.support.jobs import Jobs
from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.order_monitor.listener import OrderStreamListener
from trading_monitor.paper_exchange import PaperExchange

pytestmark = pytest.mark.storms
STORM_ROUNDS, CALM_ROUNDS = 5, 4
ENV = {"PROTECTION_MODE": "staged", "RECONCILE_GRACE_SECONDS": "60",
       "BROKER_TIMEOUT_SECONDS": "1", "BROKER_READ_RETRIES": "2", "CANCEL_SETTLE_SECONDS": "1"}

# The book: entries that fill at once (long and short), entries that rest, one that is
# cancelled and one that is amended later.
BOOK = [
    entry("AAPL", entry_price="181.00", stop_loss="175.00", take_profit="195.00"),
    entry("TSLA", entry_price="251.00", stop_loss="240.00", take_profit="300.00"),
    entry("NVDA", side="SELL", trade_style="DAYTRADE", entry_price="129.00",
          stop_loss="134.00", take_profit=None),
    entry("MSFT", entry_price="415.00", stop_loss="405.00", take_profit="440.00"),
    entry("AMD", entry_price="145.00", stop_loss="140.00", take_profit="160.00"),
    entry("SPY", entry_price="595.00", stop_loss="585.00", take_profit="620.00"),
]
FOLLOW_UPS = {  # symbol -> the decision that follows its entry once the trade exists
    "AMD": lambda jid: {"ticker": "AMD", "primary_action": "CANCEL",
                        "existing_trade_journal_id": jid},
    "SPY": lambda jid: entry("SPY", primary_action="AMEND", entry_price="596.00",
                             stop_loss="585.00", take_profit="620.00",
                             existing_trade_journal_id=jid),
}
# What the market does in each storm round (after that round's jobs).
MOVES: dict[int, dict[str, str]] = {
    1: {"MSFT": "414.00"},                   # the resting MSFT entry fills
    2: {"AAPL": "170.00", "TSLA": "275.00"},  # AAPL through its stop; TSLA +9.6%: trail
    3: {"NVDA": "127.00"},
}


def _fault(**spec: Any) -> dict[str, Any]:
    return spec


def _statuses(*codes: int, p: float) -> list[dict[str, Any]]:
    return [_fault(endpoint="*", kind="http_status", status=c, probability=p, retry_after=0)
            for c in codes]


STORMS: dict[str, list[dict[str, Any]]] = {
    "latency": [_fault(endpoint="*", kind="latency", ms=150, probability=0.3)],
    "http_429": _statuses(429, p=0.3),
    "http_5xx": _statuses(500, 502, 503, 504, p=0.08),
    "hang": [_fault(endpoint="POST /v2/orders", kind="hang", seconds=1.3, count=3),
             _fault(endpoint="GET /v2/orders", kind="hang", seconds=1.3, count=2),
             _fault(endpoint="DELETE /v2/orders/{id}", kind="hang", seconds=1.3, count=1)],
    "reset": [_fault(endpoint="*", kind="reset", probability=0.15)],
    "lost_response": [_fault(endpoint=e, kind="lost_response", probability=0.5) for e in (
        "POST /v2/orders", "PATCH /v2/orders/{id}", "DELETE /v2/orders/{id}")],
    "cancel_pending": [],  # cancel_behavior pending (set in _arm)
    "cancel_refuse": [],   # cancel_behavior refuse
    "reject_after_accept": [],  # /control/reject on accepted orders, each round
    "position_lag": [],    # /control/position_lag 30 s
    # The order stream, listened to by the daemon's listener while the jobs poll: events
    # dropped or lost with a closed socket, and reconnections refused.
    "stream": [_fault(kind="stream_disconnect", probability=0.3),
               _fault(kind="stream_drop", probability=0.3),
               _fault(endpoint="GET /stream", kind="http_status", status=429, count=2,
                      retry_after=0)],
    "mixed": [
        _fault(endpoint="*", kind="latency", ms=80, probability=0.1),
        *_statuses(429, 503, 504, p=0.05),
        _fault(endpoint="*", kind="reset", probability=0.04),
        _fault(endpoint="POST /v2/orders", kind="lost_response", probability=0.25),
        _fault(endpoint="PATCH /v2/orders/{id}", kind="lost_response", probability=0.25),
        _fault(endpoint="DELETE /v2/orders/{id}", kind="lost_response", probability=0.25),
        _fault(endpoint="POST /v2/orders", kind="hang", seconds=1.3, count=1),
    ],
}


def _arm(storm: str, exchange: PaperExchange) -> None:
    for spec in STORMS[storm]:
        exchange.control.set_fault(**spec)
    if storm in ("cancel_pending", "mixed"):
        exchange.control.set_cancel_behavior("pending", seconds=20)
    if storm == "cancel_refuse":
        exchange.control.set_cancel_behavior("refuse")
    if storm in ("position_lag", "mixed"):
        exchange.control.set_position_lag(30)


def _clear(exchange: PaperExchange) -> None:
    exchange.control.clear_faults()
    exchange.control.set_cancel_behavior("immediate")
    exchange.control.set_position_lag(0)


def _reject_accepted(exchange: PaperExchange) -> int:
    """Alpaca rejecting orders it had accepted: every unfilled open top-level order."""
    rejected = 0
    for o in exchange.control.orders():
        if (o["status"] in ("new", "accepted") and o["parent_id"] is None
                and o["filled_qty"] in ("0", None)):
            exchange.control.reject(o["client_order_id"], "storm")
            rejected += 1
    return rejected


def _reconnected(listener: OrderStreamListener, seconds: float) -> None:
    """The listener back on the stream (through the refused handshakes) after the storm."""
    deadline = time.monotonic() + seconds
    while not listener.connected:
        assert time.monotonic() < deadline, "the stream listener never reconnected"
        time.sleep(0.05)


class _Jobs:
    """The three jobs, guarded as the daemon guards them: an error is counted, not fatal."""

    def __init__(self, jobs: Jobs):
        self.jobs = jobs.with_settings(**ENV)
        self.settings = self.jobs.settings
        self.errors: list[str] = []

    def cycle(self) -> None:
        for job in (self.jobs.executor, self.jobs.order_monitor, self.jobs.position_monitor):
            self._guarded(job)

    def _guarded(self, job: Callable[..., Any]) -> None:
        try:
            job()
        except Exception as exc:  # the daemon logs it and runs the next job
            self.errors.append(f"{job.__name__}: {type(exc).__name__}")


def _follow_ups(db, added: set[str]) -> None:
    for d in db.query("analysis_decision"):
        symbol = d["ticker"]
        if symbol not in FOLLOW_UPS or symbol in added or d["primary_action"] != "NEW_TRADE":
            continue
        outcomes = db.query("decision_outcome", {"analysis_decision_id": d["id"]})
        if outcomes and outcomes[0]["trade_journal_id"]:
            add_decision(db, FOLLOW_UPS[symbol](outcomes[0]["trade_journal_id"]))
            added.add(symbol)


def _storm(storm: str, db, db_params, exchange, fixture_jobs: Jobs) -> dict[str, Any]:
    jobs = _Jobs(fixture_jobs)
    settings = jobs.settings
    listener = None
    if storm == "stream":
        listener = OrderStreamListener(db_params, AlpacaBroker(settings), settings,
                                       now=exchange_now).start()
    for body in BOOK:
        add_decision(db, body)
    _arm(storm, exchange)
    added: set[str] = set()
    rejected = 0
    for round_no in range(STORM_ROUNDS):
        jobs.cycle()
        _follow_ups(db, added)
        if storm == "reject_after_accept":
            rejected += _reject_accepted(exchange)
        if MOVES.get(round_no):
            exchange.control.set_prices(MOVES[round_no])
        exchange.control.advance(30)
    if listener is not None:
        _reconnected(listener, 10)
    storm_errors = len(jobs.errors)
    counts = exchange.control.fault_counts()
    _clear(exchange)
    if listener is not None:
        listener.stop()
    for _ in range(CALM_ROUNDS):
        _follow_ups(db, added)
        jobs.cycle()
        exchange.control.advance(31)  # past the cancel settle and reconciliation grace
    assert added == set(FOLLOW_UPS), f"follow-ups never placed: {set(FOLLOW_UPS) - added}"
    books = assert_books_hold(db, db_params, exchange, settings)
    marks = {m["trade_journal_id"]: m["trail_step"] for m in db.query("position_tracking")}
    trades = {j["symbol"]: (j["status"], j["exit_reason_code"], marks.get(j["id"]))
              for j in db.query("trade_journal")}
    spy = [o["limit_price"] for o in exchange.control.orders() if o["symbol"] == "SPY"
           and o["status"] == "new"]
    return {"trades": trades, "spy_live": spy, "storm": storm, "faults": counts["faults"],
            "by_kind": counts["by_kind"],
            "cancel_pending": counts["cancel_pending"],
            "cancel_refused": counts["cancel_refused"],
            "rejected_after_accept": counts["rejected_after_accept"] or rejected,
            "lagged_position_reads": counts["lagged_position_reads"],
            "job_errors_in_storm": storm_errors, "calm_errors": len(jobs.errors) - storm_errors,
            **books}


@pytest.mark.parametrize("storm", list(STORMS))
def test_a_fault_storm_leaves_the_books_whole(storm, db, db_params, exchange, jobs):
    record = _storm(storm, db, db_params, exchange, jobs)
    print(f"\nSTORM {record}")
    played = (record["faults"] + record["cancel_pending"] + record["cancel_refused"]
              + record["rejected_after_accept"] + record["lagged_position_reads"])
    assert played > 0, "the storm injected nothing"
    assert record["calm_errors"] == 0, "jobs still failing after the storm cleared"
    trades = record["trades"]
    if storm != "reject_after_accept":  # there every accepted order is rejected
        assert trades["AAPL"][:2] == ("CLOSED", "STOPPED_OUT")
        assert trades["AMD"][0] == "CANCELLED"
        assert trades["TSLA"] == ("POSITION", None, 1)  # the trail step taken once
        assert trades["MSFT"][0] == trades["NVDA"][0] == "POSITION"
        assert trades["SPY"][0] == "PENDING" and record["spy_live"] == ["596"]  # amended


def test_an_amend_waiting_for_a_pending_cancel_survives_the_position_monitor(
        db, db_params, exchange, jobs):
    """Found by the cancel_pending storm: the position monitor took the AMEND's unsent entry
    for a trailing replace that never reached the broker and marked it not_sent, so the
    amend ended SKIPPED and the trade had no order once the old cancel went through."""
    jobs = _Jobs(jobs)
    settings = jobs.settings
    first = add_decision(db, entry("SPY", entry_price="595.00", stop_loss="585.00",
                                   take_profit="620.00"))
    jobs.cycle()
    [old] = db.query("decision_outcome", {"analysis_decision_id": first})
    exchange.control.set_cancel_behavior("pending", seconds=20)
    amend = add_decision(db, FOLLOW_UPS["SPY"](old["trade_journal_id"]))
    jobs.cycle()  # the amend waits for the old entry's cancel; the monitors run meanwhile
    jobs.cycle()
    exchange.control.advance(21)
    jobs.cycle()
    assert not jobs.errors
    [done] = db.query("decision_outcome", {"analysis_decision_id": amend})
    assert done["terminal_state"] == "EXECUTED", done["reason"]
    live = [o for o in exchange.control.orders() if o["symbol"] == "SPY"
            and o["status"] == "new"]
    assert [o["limit_price"] for o in live] == ["596"]
    assert_books_hold(db, db_params, exchange, settings)


def test_the_exchange_counts_the_faults_it_injects(exchange, broker):
    """GET /control/fault_counts: a count-limited fault is still counted once it is gone."""
    exchange.control.set_fault("GET /v2/account", "http_status", status=503, count=2)
    broker.get_account()  # two 503s, then the read retry gets through
    counts = exchange.control.fault_counts()
    assert exchange.control._call("GET", "/control/faults") == []
    assert (counts["faults"], counts["by_kind"], counts["by_endpoint"]) == (
        2, {"http_status": 2}, {"GET /v2/account http_status": 2})
    exchange.control.reset()
    assert exchange.control.fault_counts()["faults"] == 0
