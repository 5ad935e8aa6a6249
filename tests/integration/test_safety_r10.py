"""R10: the end-of-day flatten must never leave a position without a stop when its exit is
refused (a halted symbol, a 403).

Alpaca refuses a market exit for shares a stop holds, so the stop is cancelled first; when
the exit is then refused, the stop goes back at once, in the same cycle (GTC: a day trade
that cannot be closed today stays protected overnight).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal

from tests.helpers import add_decision, entry, outcome
from tests.stream_fixtures import wait_within
from tests.support.jobs import Jobs

D = Decimal
AT_1550 = datetime(2026, 11, 20, 20, 50, tzinfo=timezone.utc)
LIVE = {"new", "accepted", "held", "partially_filled", "pending_cancel"}


def _day_trade(db, jobs) -> int:
    d = add_decision(db, entry(trade_style="DAYTRADE", entry_price="181.00",
                               stop_loss="175.00", take_profit=None))
    jobs.executor()
    assert outcome(db, d)["terminal_state"] == "EXECUTED", outcome(db, d)["reason"]
    return int(outcome(db, d)["trade_journal_id"])


def _live_stops(exchange):
    return [(o["side"], o["qty"], o["time_in_force"], D(o["stop_price"]))
            for o in exchange.control.orders() if o["symbol"] == "AAPL"
            and o["order_type"] in ("stop", "stop_limit") and o["status"] in LIVE]


def _held(exchange):
    return {p["symbol"]: D(p["qty"]) for p in exchange.control.state()["positions"]}


def test_a_refused_exit_puts_the_stop_back_in_the_same_cycle(db, jobs, exchange):
    jobs = jobs.with_settings(PROTECTION_MODE="staged")
    jid = _day_trade(db, jobs)
    jobs.order_monitor()
    assert _live_stops(exchange) == [("sell", "10", "gtc", D("175.00"))]
    exchange.control.set_clock(AT_1550)
    exchange.control.set_fault("POST /v2/orders", "http_status", status=422, code=42210000,
                               message="asset AAPL is halted", count=1)
    report = jobs.order_monitor()  # the exit is refused
    assert _held(exchange) == {"AAPL": D(10)}
    assert _live_stops(exchange) == [("sell", "10", "gtc", D("175.00"))], report.actions
    assert db.get_by_id("trade_journal", jid)["status"] == "POSITION"
    exchange.control.advance(300)  # 15:55: the halt has lifted
    report = jobs.order_monitor()
    exchange.control.advance(1)
    jobs.order_monitor()
    assert _held(exchange) == {}, report.actions
    assert _live_stops(exchange) == []
    journal = db.get_by_id("trade_journal", jid)
    assert (journal["status"], journal["exit_reason_code"]) == ("CLOSED", "EOD_FLATTEN")


def test_a_halt_at_the_flatten_time_leaves_the_position_protected(db, jobs, exchange):
    jobs = jobs.with_settings(PROTECTION_MODE="staged")
    jid = _day_trade(db, jobs)
    jobs.order_monitor()
    exchange.control.set_clock(AT_1550)
    exchange.control.halt("AAPL")  # orders are accepted and rest: the exit cannot fill
    report = jobs.order_monitor()
    assert _held(exchange) == {"AAPL": D(10)}
    assert _live_stops(exchange) == [("sell", "10", "gtc", D("175.00"))], report.actions
    assert [o for o in exchange.control.orders() if o["order_type"] == "market"
            and o["status"] in LIVE] == []  # no exit left resting into the close
    exchange.control.halt("AAPL", halted=False)
    exchange.control.advance(300)
    jobs.order_monitor()
    exchange.control.advance(1)
    jobs.order_monitor()
    assert _held(exchange) == {} and _live_stops(exchange) == []
    assert db.get_by_id("trade_journal", jid)["exit_reason_code"] == "EOD_FLATTEN"


def test_a_halted_asset_keeps_its_stop_and_no_exit_is_tried(db, jobs, exchange):
    jobs = jobs.with_settings(PROTECTION_MODE="staged")
    _day_trade(db, jobs)
    jobs.order_monitor()
    exchange.control.set_clock(AT_1550)
    exchange.control.halt("AAPL", tradable_flips=True)  # the asset shows tradable: false
    report = jobs.order_monitor()
    assert _held(exchange) == {"AAPL": D(10)}
    assert _live_stops(exchange) == [("sell", "10", "gtc", D("175.00"))], report.actions
    assert [o for o in exchange.control.orders() if o["order_type"] == "market"] == []


# -- the stop's cancel pending at the flatten time (found by the lifecycle model) -----------

def _stop_id(exchange) -> str:
    [stop] = [o for o in exchange.control.orders() if o["order_type"] == "stop"
              and o["status"] in LIVE]
    return stop["client_order_id"]


def _market_exits(exchange):
    return [(o["side"], o["qty"], o["status"]) for o in exchange.control.orders()
            if o["order_type"] == "market"]


def test_a_pending_cancel_of_the_stop_is_followed_and_the_exit_goes_in_the_same_run(
        db, jobs, exchange):
    jobs = jobs.with_settings(PROTECTION_MODE="staged")
    jid = _day_trade(db, jobs)
    jobs.order_monitor()
    exchange.control.set_clock(AT_1550)
    stop_id = _stop_id(exchange)
    exchange.control.set_cancel_behavior("pending", seconds=30, client_order_id=stop_id)
    # The job's waits pass on the exchange's clock: the cancel is final 30 s on.
    report = jobs.order_monitor(sleep=lambda seconds: exchange.control.advance(seconds))
    book = {o["client_order_id"]: o for o in exchange.control.orders()}
    assert book[stop_id]["status"] == "canceled", report.actions
    assert _market_exits(exchange) == [("sell", "10", "filled")], report.actions
    [exit_order] = [o for o in book.values() if o["order_type"] == "market"]
    # sent after the stop's cancel was final, and while the session was open
    assert book[stop_id]["canceled_at"] <= exit_order["submitted_at"] < "2026-11-20T21:00"
    assert _held(exchange) == {}
    [exit_row] = [r for r in db.query("order_execution", {"trade_journal_id": jid})
                  if r["order_role"] == "EXIT"]
    assert (exit_row["purpose"], exit_row["order_status"]) == ("EOD_FLATTEN", "filled")


def test_a_cancel_pending_into_the_close_ends_with_a_gtc_stop_and_no_exit(db, jobs, exchange):
    jobs = jobs.with_settings(PROTECTION_MODE="staged")
    jid = _day_trade(db, jobs)
    jobs.order_monitor()
    exchange.control.set_clock(datetime(2026, 11, 20, 20, 59, 30, tzinfo=timezone.utc))
    stop_id = _stop_id(exchange)
    exchange.control.set_cancel_behavior("pending", seconds=60, client_order_id=stop_id)
    report = jobs.order_monitor(sleep=lambda seconds: exchange.control.advance(seconds))
    # Followed until the close (16:00), still pending: no exit is sent from the close on.
    assert {o["client_order_id"]: o["status"] for o in exchange.control.orders()}[stop_id] \
        == "pending_cancel", report.actions
    assert _market_exits(exchange) == []
    exchange.control.advance(60)  # the cancel goes through after the close
    report = jobs.order_monitor()  # the stop goes back, GTC, no exit
    assert _market_exits(exchange) == [], report.actions
    assert _live_stops(exchange) == [("sell", "10", "gtc", D("175.00"))], report.actions
    assert _held(exchange) == {"AAPL": D(10)}
    assert db.get_by_id("trade_journal", jid)["status"] == "POSITION"


# -- R10-LONG: the stop's cancel pending longer than the flatten follows it ----------------
# The run ends with the stop pending cancel: it still works at the broker (it may fill until
# the cancel is final) and nothing else can be placed for the shares it holds. The stream
# listener sends the exit the moment the cancel is final; a stop that fills instead leaves
# nothing to sell.

def _flatten_with_a_long_pending_cancel(db, staged: Jobs, exchange) -> tuple:
    d = add_decision(db, entry(trade_style="DAYTRADE", entry_price="181.00",
                               stop_loss="175.00", take_profit=None))
    staged.executor()
    jid = int(outcome(db, d)["trade_journal_id"])
    staged.order_monitor()  # (or the stream, when it listens) protects it
    wait_within(lambda: _live_stops(exchange) == [("sell", "10", "gtc", D("175.00"))], 10)
    exchange.control.set_clock(AT_1550)
    stop_id = _stop_id(exchange)
    exchange.control.set_cancel_behavior("pending", seconds=300, client_order_id=stop_id)
    report = staged.order_monitor(sleep=lambda seconds: exchange.control.advance(seconds))
    book = {o["client_order_id"]: o for o in exchange.control.orders()}
    assert book[stop_id]["status"] == "pending_cancel", report.actions
    assert _market_exits(exchange) == [] and _held(exchange) == {"AAPL": D(10)}
    return jid, stop_id


def test_r10_long_the_listener_sends_the_exit_once_the_cancel_is_final(
        db, jobs, exchange, staged, listener):
    staged = replace(jobs, settings=staged)  # the `staged` settings the listener has
    jid, stop_id = _flatten_with_a_long_pending_cancel(db, staged, exchange)
    exchange.control.advance(240)  # 15:55: the cancel is final, the stream says "canceled"
    wait_within(lambda: db.get_by_id("trade_journal", jid)["status"] == "CLOSED", 15)
    assert _market_exits(exchange) == [("sell", "10", "filled")]
    assert _held(exchange) == {} and _live_stops(exchange) == []
    book = {o["client_order_id"]: o for o in exchange.control.orders()}
    [exit_order] = [o for o in book.values() if o["order_type"] == "market"]
    assert book[stop_id]["canceled_at"] <= exit_order["submitted_at"]
    assert [o for o in book.values() if o["order_type"] == "stop"] == [book[stop_id]]
    assert db.get_by_id("trade_journal", jid)["exit_reason_code"] == "EOD_FLATTEN"


def test_r10_long_a_stop_that_fills_while_its_cancel_is_pending_ends_it(
        db, jobs, exchange, staged, listener):
    staged = replace(jobs, settings=staged)  # the `staged` settings the listener has
    jid, stop_id = _flatten_with_a_long_pending_cancel(db, staged, exchange)
    exchange.control.set_price("AAPL", "174.00")  # through the stop: it fills
    wait_within(lambda: db.get_by_id("trade_journal", jid)["status"] == "CLOSED", 15)
    journal = db.get_by_id("trade_journal", jid)
    assert journal["exit_reason_code"] == "STOPPED_OUT"
    assert _market_exits(exchange) == [] and _held(exchange) == {}
    assert {o["client_order_id"]: o["status"] for o in exchange.control.orders()}[stop_id] \
        == "filled"


def test_r10_long_the_next_run_sends_the_exit_without_putting_a_stop_back(
        db, jobs, exchange, staged):
    staged = replace(jobs, settings=staged)  # the `staged` settings the listener has
    jid, stop_id = _flatten_with_a_long_pending_cancel(db, staged, exchange)
    report = staged.order_monitor()  # still pending: the stop protects, no order
    assert _market_exits(exchange) == [], report.actions
    assert [o["client_order_id"] for o in exchange.control.orders()
            if o["order_type"] == "stop"] == [stop_id]
    exchange.control.advance(240)  # 15:55: the cancel is final
    report = staged.order_monitor()
    assert _market_exits(exchange) == [("sell", "10", "filled")], report.actions
    assert [o["client_order_id"] for o in exchange.control.orders()
            if o["order_type"] == "stop"] == [stop_id]  # no stop put back to cancel again
    journal = db.get_by_id("trade_journal", jid)
    assert (journal["status"], journal["exit_reason_code"]) == ("CLOSED", "EOD_FLATTEN")
    assert _held(exchange) == {}


def test_r10_long_part_of_the_pending_stop_fills_the_books_follow_and_nothing_is_sent(
        db, jobs, exchange, staged):
    staged = replace(jobs, settings=staged)  # the `staged` settings the listener has
    jid, stop_id = _flatten_with_a_long_pending_cancel(db, staged, exchange)
    exchange.control.set_partial_fill(client_order_id=stop_id, ratio="0.3", rest=True)
    exchange.control.set_price("AAPL", "174.00")  # through the stop: 3 of 10 fill
    assert _held(exchange) == {"AAPL": D(7)}
    report = staged.order_monitor()
    assert db.query("position_tracking", {"trade_journal_id": jid})[0]["qty"] == D(7), \
        report.actions
    assert _market_exits(exchange) == []  # the stop still holds the 7: nothing else is sent
    assert [o["client_order_id"] for o in exchange.control.orders()
            if o["order_type"] == "stop"] == [stop_id]
