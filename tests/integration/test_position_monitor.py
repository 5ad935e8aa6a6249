"""The position monitor against the paper exchange: marks, reconciliation cases (a) to (d),
a shared account, trailing stops, risk halts and approved targets. Orders and positions
are counted at the exchange."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.helpers import add_decision, entry, outcome
from tests.support.jobs import Jobs
from trading_monitor.broker.models import OrderRequest

D = Decimal


def _staged(jobs: Jobs, **env: str) -> Jobs:
    return jobs.with_settings(**{"PROTECTION_MODE": "staged", "RECONCILE_GRACE_SECONDS": "60",
                                 **env})


def _mark(db, jid):
    [row] = db.query("position_tracking", {"trade_journal_id": jid})
    return row


def _by_hand(broker, symbol, side, qty, coid):
    broker.submit_order(OrderRequest(client_order_id=coid, symbol=symbol, side=side, qty=D(qty),
                                     order_type="market", time_in_force="day"))


# -- mark-to-market --------------------------------------------------------------------------

def test_positions_are_marked_in_one_batched_request(db, jobs, exchange):
    jobs = _staged(jobs, BLOCK_DUPLICATE_ENTRY="false")
    long = jobs.position(db)
    short = jobs.position(db, "MSFT", side="SELL", trade_style="DAYTRADE",
                      entry_price="419.00", stop_loss="430.00", take_profit=None)
    exchange.control.set_prices({"AAPL": "190.00", "MSFT": "425.00"})
    exchange.control.reset_counters()
    jobs.position_monitor()
    assert exchange.control.counters()["GET /v2/stocks/snapshots"] == 1
    a, m = _mark(db, long), _mark(db, short)
    assert (a["current_price"], a["market_value"], a["unrealized_pnl"]) == (
        D("190.00"), D("1900.00"), D("100.00"))  # bought 10 at 180
    # R: 100 of gain over 10 shares x 5.00 of initial risk (180 entry, 175 stop) = 2R
    assert a["unrealized_r"] == D("2.00")
    assert a["high_water_mark"] == D("190.00")
    assert m["unrealized_pnl"] == D("-50.00")  # short 10 from 420, now 425
    assert m["high_water_mark"] == D("420.00")  # a short's best price is its low


def test_a_stale_price_marks_the_position_stale_and_writes_no_value(db, jobs, exchange):
    jobs = _staged(jobs)
    jid = jobs.position(db)
    jobs.position_monitor()
    before = _mark(db, jid)
    exchange.control.advance(20 * 60)  # 20 minutes without a trade (limit 15)
    jobs.position_monitor()
    after = _mark(db, jid)
    assert after["mark_stale"] is True
    assert after["current_price"] == before["current_price"]  # kept, never zeroed


# -- reconciliation -------------------------------------------------------------------------

def test_a_position_closed_by_hand_is_booked_at_its_real_fill(db, jobs, exchange):
    jobs = _staged(jobs)
    jid = jobs.position(db)
    exchange.control.set_price("AAPL", "183.50")
    exchange.control.close_position_manually("AAPL")
    jobs.position_monitor()
    assert db.get_by_id("trade_journal", jid)["status"] == "POSITION"  # positions can lag
    exchange.control.advance(61)  # past the grace: the fill explains it
    jobs.position_monitor()
    journal = db.get_by_id("trade_journal", jid)
    assert (journal["status"], journal["exit_reason_code"]) == ("CLOSED", "MANUAL")
    assert journal["exit_price"] == D("183.50") and journal["exit_estimated"] is False
    assert journal["actual_pnl"] == D("35.00")
    jobs.order_monitor()  # its protection is now an orphan: cancelled
    exchange.control.advance(6 * 60)
    jobs.order_monitor()
    assert not [o for o in exchange.control.orders() if o["status"] in ("new", "held")]


def test_an_untracked_position_is_adopted_and_protected_after_the_grace(db, jobs, broker,
                                                                        exchange):
    jobs = _staged(jobs)
    _by_hand(broker, "NVDA", "buy", 5, "by-hand-1")
    exchange.control.advance(1)
    first = jobs.position_monitor()
    assert db.query("trade_journal", {"origin": "EXTERNAL"}) == []  # within the grace
    assert first.status == "PASS"
    exchange.control.advance(61)
    jobs.position_monitor()
    [journal] = db.query("trade_journal", {"origin": "EXTERNAL"})
    assert (journal["symbol"], journal["status"], journal["actual_qty"]) == (
        "NVDA", "POSITION", D(5))
    [stop] = [o for o in exchange.control.orders() if o["symbol"] == "NVDA"
              and o["order_type"] == "stop"]
    assert stop["status"] == "new" and D(stop["stop_price"]) == D("123.50")  # 5% under 130
    # Its stop price is the ledger's (Ledger.set_planned_stop), with its event_log row.
    assert journal["planned_stop_loss"] == D("123.50")
    assert [e["message"] for e in db.query("event_log", {"entity": "trade_journal",
                                                         "entity_id": journal["id"]})
            if e["event"] == "planned_stop"] == [
        f"trade #{journal['id']}: stop price set to 123.50 (adopted: EMERGENCY_STOP_PCT "
        "beyond the market)"]


def test_a_shared_account_reports_untracked_positions_and_never_touches_them(
        db, jobs, broker, exchange):
    jobs = _staged(jobs)
    _by_hand(broker, "NVDA", "buy", 5, "by-hand-2")
    broker.submit_order(OrderRequest(client_order_id="tm-0ther000-d1-entry", symbol="TSLA",
                                     side="buy", qty=D(1), order_type="limit",
                                     time_in_force="day", limit_price=D("200.00")))
    exchange.control.advance(61)
    jobs.position_monitor()
    exchange.control.advance(61)
    report = jobs.position_monitor()
    assert db.query("trade_journal", {"origin": "EXTERNAL"}) == []
    assert not [o for o in exchange.control.orders() if o["symbol"] == "NVDA"
                and o["order_type"] == "stop"]
    kinds = {r["kind"] for r in db.query("reconciliation_issue")}
    assert "SHARED_ACCOUNT" in kinds and report.status == "PASS"


def test_a_persistent_mismatch_halts_entries_and_a_pass_resumes_them(db, jobs, broker,
                                                                     exchange):
    jobs = _staged(jobs)
    jobs.position(db)
    _by_hand(broker, "AAPL", "buy", 2, "by-hand-3")  # the broker now holds 12, we 10
    exchange.control.advance(1)
    assert jobs.position_monitor().status == "PASS"  # within the grace
    exchange.control.advance(61)
    report = jobs.position_monitor()
    assert report.status == "FAIL" and report.failing[0].kind.value == "QTY_MISMATCH"
    blocked = add_decision(db, entry("MSFT", entry_price="410.00", stop_loss="400.00",
                                     take_profit="440.00", quantity=1))
    jobs.executor()
    assert "reconciliation halt" in outcome(db, blocked)["reason"]
    snaps = db.query("broker_snapshot", {"snapshot_type": "RECONCILIATION"})
    assert [s["reconciliation_status"] for s in snaps] == ["PASS", "FAIL"]
    _by_hand(broker, "AAPL", "sell", 2, "by-hand-4")
    exchange.control.advance(1)
    assert jobs.position_monitor().status == "PASS"
    events = [e["event"] for e in db.query("event_log", {"entity": "system_state"})]
    assert events == ["halt_set", "halt_cleared"]


def test_a_transient_position_lag_does_not_halt(db, jobs, exchange):
    jobs = _staged(jobs)
    exchange.control.set_position_lag(20)
    d = add_decision(db, entry(entry_price="181.00", stop_loss="175.00", take_profit="195.00"))
    jobs.executor()
    jobs.order_monitor()
    report = jobs.position_monitor()  # positions still show nothing
    assert report.status == "PASS"
    exchange.control.advance(30)
    assert jobs.position_monitor().status == "PASS"
    assert db.get_by_id("trade_journal", outcome(db, d)["trade_journal_id"])["status"] == (
        "POSITION")


def test_a_stop_cancelled_by_hand_is_replaced(db, jobs, broker, exchange):
    jobs = _staged(jobs)
    jid = jobs.position(db)
    [oco] = [o for o in exchange.control.orders() if o["order_class"] == "oco"
             and o["order_type"] == "limit"]
    broker.cancel_order(oco["id"])  # the trader cancels the protection at the broker
    jobs.position_monitor()

    def live() -> list[str]:
        return [o["qty"] for o in exchange.control.orders() if o["status"] == "new"
                and o["order_type"] == "stop"]

    # Taken away on purpose: no new stop for HAND_CANCEL_GRACE_SECONDS (60), then one.
    assert live() == []
    assert [e["event"] for e in db.query("event_log", {"entity_id": jid})
            if e["event"] == "stop_cancelled_by_hand"] == ["stop_cancelled_by_hand"]
    exchange.control.advance(61)
    jobs.position_monitor()
    assert live() == ["10"]
    assert db.get_by_id("trade_journal", jid)["status"] == "POSITION"


def test_a_stop_cancelled_by_hand_is_replaced_at_once_without_a_grace(db, jobs, broker,
                                                                      exchange):
    jobs = _staged(jobs, HAND_CANCEL_GRACE_SECONDS="0")
    jid = jobs.position(db)
    [oco] = [o for o in exchange.control.orders() if o["order_class"] == "oco"
             and o["order_type"] == "limit"]
    broker.cancel_order(oco["id"])
    jobs.position_monitor()
    live = [o for o in exchange.control.orders() if o["status"] == "new"
            and o["order_type"] == "stop"]
    assert [o["qty"] for o in live] == ["10"]
    assert db.get_by_id("trade_journal", jid)["status"] == "POSITION"


# -- trailing stops -------------------------------------------------------------------------

def _stop_price(exchange, symbol="AAPL") -> Decimal:
    # A short's buy stop is held as a stop-limit, as Alpaca holds it (docs/paper-exchange.md).
    [stop] = [o for o in exchange.control.orders() if o["symbol"] == symbol
              and o["order_type"] in ("stop", "stop_limit") and o["status"] in ("new", "held")]
    return D(stop["stop_price"])


def test_the_stop_climbs_the_staircase_and_a_gap_takes_the_higher_step(db, jobs, exchange):
    jobs = _staged(jobs)
    jid = jobs.position(db, take_profit="260.00")  # entry 180, stop 175
    exchange.control.set_price("AAPL", "195.00")  # +8.3%: break-even
    jobs.position_monitor()
    assert _stop_price(exchange) == D("180.00") and _mark(db, jid)["trail_step"] == 1
    exchange.control.set_price("AAPL", "190.00")  # falls back: the stop never loosens
    jobs.position_monitor()
    assert _stop_price(exchange) == D("180.00")
    exchange.control.set_price("AAPL", "226.00")  # +25.5%: over two steps at once
    jobs.position_monitor()
    assert _stop_price(exchange) == D("207.00") and _mark(db, jid)["trail_step"] == 3
    ids = [r["client_order_id"] for r in db.query("order_execution", {"trade_journal_id": jid})
           if r["order_role"] == "STOP_LOSS"]
    assert len(ids) == len(set(ids)) >= 3 and ids[-1].endswith("-3")


def test_a_short_trails_downwards(db, jobs, exchange):
    jobs = _staged(jobs)
    jid = jobs.position(db, side="SELL", trade_style="DAYTRADE",
                    entry_price="179.00", stop_loss="186.00", take_profit=None)  # short at 180
    exchange.control.set_price("AAPL", "153.00")  # +15% for a short
    jobs.position_monitor()
    assert _stop_price(exchange) == D("165.60") and _mark(db, jid)["trail_step"] == 2


def test_a_failed_replace_leaves_the_old_stop_and_retries(db, jobs, exchange):
    jobs = _staged(jobs)
    jid = jobs.position(db, take_profit="260.00")
    exchange.control.set_price("AAPL", "195.00")
    exchange.control.set_fault("PATCH /v2/orders/{id}", "http_status", status=422, count=1)
    report = jobs.position_monitor()
    assert any("replace failed" in a for a in report.actions)
    assert _stop_price(exchange) == D("175.00") and _mark(db, jid)["trail_step"] == 0
    jobs.position_monitor()
    assert _stop_price(exchange) == D("180.00")


# -- risk halts and targets -----------------------------------------------------------------

def test_the_daily_loss_guard_counts_unrealised_loss_and_survives_a_restart(
        db, jobs, exchange):
    jobs = _staged(jobs, MAX_DAILY_LOSS="50")
    jid = jobs.position(db, stop_loss="150.00")
    exchange.control.set_price("AAPL", "174.00")  # 10 shares 6.00 under 180: 60 unrealised
    assert db.get_by_id("trade_journal", jid)["status"] == "POSITION"
    jobs.position_monitor()
    [halt] = db.execute_query("SELECT value FROM system_state WHERE key = 'halt_daily_loss'")
    assert halt["value"] == "2026-11-20"
    d = add_decision(db, entry("MSFT", entry_price="410.00", stop_loss="400.00",
                               take_profit="440.00", quantity=1))
    jobs.executor()  # a new process: the state is in the database
    assert "daily loss halt" in outcome(db, d)["reason"]


def test_the_drawdown_halt_holds_until_an_operator_resumes(db, jobs, exchange):
    jobs = _staged(jobs, MAX_DRAWDOWN_PCT="0.01", MAX_DAILY_LOSS="off")
    jobs.position(db)
    exchange.control.set_price("AAPL", "178.00")
    jobs.position_monitor()
    from trading_monitor.engine.halts import active_halt

    assert "drawdown halt" in (active_halt(db, exchange_day()) or "")
    from trading_monitor.engine.halts import clear_halt

    assert clear_halt(db, "operator", "halt_drawdown", "an operator resumed")
    assert active_halt(db, exchange_day()) is None


def exchange_day():
    from tests.helpers import exchange_now

    return exchange_now().date()


def test_an_approved_target_closes_the_position_at_market(db, jobs, exchange):
    jobs = _staged(jobs)
    jid = jobs.position(db, trade_style="DAYTRADE",
                    take_profit="190.00")  # staged DAYTRADE: a stop alone, no target order
    exchange.control.set_price("AAPL", "191.00")
    jobs.position_monitor()
    assert _mark(db, jid)["target_reached_at"] is not None
    assert db.get_by_id("trade_journal", jid)["status"] == "POSITION"
    db.execute_update("UPDATE position_tracking SET exit_approved = true "
                      "WHERE trade_journal_id = %s", [jid])  # the NocoDB checkbox
    jobs.position_monitor()
    exchange.control.advance(1)
    jobs.order_monitor()
    journal = db.get_by_id("trade_journal", jid)
    assert (journal["status"], journal["exit_reason_code"]) == ("CLOSED", "TARGET_HIT")


def test_a_tracked_position_gone_without_any_fill_closes_estimated(db, jobs, exchange):
    from tests.helpers import ledger

    jobs = _staged(jobs)
    jid = ledger(db).adopt_external_position("SPY", D(3), D("600.00"), "a test's books")
    jobs.position_monitor()
    assert db.get_by_id("trade_journal", jid)["status"] == "POSITION"  # the grace first
    exchange.control.advance(61)
    jobs.position_monitor()
    journal = db.get_by_id("trade_journal", jid)
    assert (journal["status"], journal["exit_reason_code"], journal["exit_estimated"]) == (
        "CLOSED", "EXTERNAL", True)
    assert journal["exit_price"] == D("600.00")


@pytest.mark.parametrize(("n", "expected"), [(10, 7), (500, 8)])
def test_requests_per_cycle_do_not_grow_with_positions(db, jobs, exchange, n, expected):
    jobs = _staged(jobs, BLOCK_DUPLICATE_ENTRY="false", MAX_OPEN_POSITIONS="off",
                         MAX_TOTAL_EXPOSURE="off")
    for _ in range(n):
        add_decision(db, entry(entry_price="181.00", stop_loss="175.00", take_profit="195.00",
                               quantity=1))
    jobs.executor()
    jobs.order_monitor()
    jobs.position_monitor()
    exchange.control.reset_counters()
    report = jobs.position_monitor()
    # fill feed, open orders (500 protective orders fill a page: two), positions, account,
    # today's deposits and withdrawals (MAX_DAILY_LOSS is set), the fee activities, and one
    # snapshot request per 100 symbols
    assert report.broker_requests == expected, exchange.control.counters()
    assert report.actions == []


def test_one_start_and_one_end_snapshot_per_trading_day(db, jobs, exchange):
    from datetime import datetime, timezone

    jobs = _staged(jobs)
    jobs.position(db)
    jobs.position_monitor()
    exchange.control.set_clock(datetime(2026, 11, 20, 23, 15, tzinfo=timezone.utc))  # 18:15
    jobs.position_monitor()
    jobs.position_monitor()
    kinds = [s["snapshot_type"] for s in db.query("broker_snapshot")]
    assert kinds.count("START") == 1 and kinds.count("END") == 1
    [end] = db.query("broker_snapshot", {"snapshot_type": "END"})
    assert end["reconciliation_status"] == "PASS" and end["positions"][0]["symbol"] == "AAPL"


def test_the_daily_loss_halt_clears_itself_the_next_trading_day(db):
    from datetime import date

    from trading_monitor.engine.halts import active_halt, set_halt

    set_halt(db, "run", "halt_daily_loss", "2026-11-20", "down 60.00 today")
    assert "daily loss halt" in (active_halt(db, date(2026, 11, 20)) or "")
    assert active_halt(db, date(2026, 11, 23)) is None


def test_a_lagging_position_and_someone_elses_fill_close_nothing(db, jobs, broker,
                                                                 exchange):
    jobs = _staged(jobs)
    jid = jobs.position(db)
    for side, coid in (("buy", "by-hand-5"), ("sell", "by-hand-6")):  # a 1-share round trip
        _by_hand(broker, "AAPL", side, 1, coid)
        exchange.control.advance(1)
    exchange.control.set_position_lag(30)  # shorter than the 60 s grace
    for _ in range(3):
        jobs.position_monitor()
        exchange.control.advance(31)
    assert db.get_by_id("trade_journal", jid)["status"] == "POSITION"


def test_a_hand_close_is_never_answered_with_a_short(db, jobs, broker, exchange):
    jobs = _staged(jobs)
    jid = jobs.position(db)
    exchange.control.close_position_manually("AAPL")  # the trader sells at the broker
    jobs.order_monitor()  # the order monitor sees its protection gone first
    jobs.order_monitor()
    assert broker.get_positions() == []  # no emergency sale of shares that are gone
    jobs.position_monitor()
    exchange.control.advance(61)
    jobs.position_monitor()
    journal = db.get_by_id("trade_journal", jid)
    assert (journal["status"], journal["exit_reason_code"]) == ("CLOSED", "MANUAL")
    assert broker.get_positions() == []
