"""The order monitor against the paper exchange: fills booked once, positions protected,
exits closed with P&L from the fills. Orders are counted at the exchange."""

from __future__ import annotations

from decimal import Decimal

from tests.helpers import add_decision, entry, outcome
from tests.support.jobs import Jobs

D = Decimal


def _journal(db, jid):
    return db.get_by_id("trade_journal", jid)


def _trade(db, jobs: Jobs, **overrides) -> int:
    d = add_decision(db, entry(**overrides))
    jobs.executor()
    result = outcome(db, d)
    assert result["terminal_state"] == "EXECUTED", result["reason"]
    return int(result["trade_journal_id"])


def test_bracket_entry_fill_then_stop_out_closes_with_pnl(db, broker, jobs, exchange):
    jid = _trade(db, jobs, entry_price="181.00", stop_loss="175.00",
                 take_profit="195.00")  # marketable: fills at once
    report = jobs.order_monitor()
    journal = _journal(db, jid)
    assert journal["status"] == "POSITION", report.actions
    assert journal["actual_qty"] == D(10) and journal["protected_at"] is not None
    [position] = db.query("position_tracking", {"trade_journal_id": jid})
    assert position["qty"] == D(10)
    fills = db.query("fills", {"trade_journal_id": jid})
    assert [f["qty"] for f in fills] == [D(10)]
    exchange.control.set_price("AAPL", "174.00")  # through the stop
    exchange.control.advance(1)
    jobs.order_monitor()
    journal = _journal(db, jid)
    assert journal["status"] == "CLOSED", journal
    assert journal["exit_reason_code"] == "STOPPED_OUT"
    assert journal["actual_pnl"] == (journal["exit_price"] - journal["actual_entry_price"]) * 10
    assert db.query("position_tracking", {"trade_journal_id": jid}) == []
    assert broker.get_positions() == []
    again = jobs.order_monitor()  # twice changes nothing
    assert again.actions == [] and again.sync.new_fills == 0


def _staged(jobs: Jobs, **env: str) -> Jobs:
    """The jobs with staged protection (and `env`), on a broker built on those settings."""
    return jobs.with_settings(PROTECTION_MODE="staged", **env)


def _live(exchange, symbol="AAPL") -> list[dict]:
    live = {"new", "accepted", "held", "partially_filled", "pending_cancel"}
    return [o for o in exchange.control.orders() if o["symbol"] == symbol
            and o["status"] in live]


def test_staged_swing_gets_one_oco_for_the_whole_fill(db, jobs, exchange):
    jobs = _staged(jobs)
    jid = _trade(db, jobs, entry_price="181.00", stop_loss="175.00",
                 take_profit="195.00")
    jobs.order_monitor()
    journal = _journal(db, jid)
    assert journal["status"] == "POSITION" and journal["protected_at"] is not None
    assert journal["unprotected_seconds"] is not None
    live = _live(exchange)
    assert sorted((o["order_class"], o["order_type"], o["qty"], o["time_in_force"])
                  for o in live) == [("oco", "limit", "10", "gtc"), ("oco", "stop", "10", "gtc")]
    ours = [r for r in db.query("order_execution", {"trade_journal_id": jid})
            if r["purpose"] == "PROTECTION"]
    assert {r["order_role"] for r in ours} == {"TAKE_PROFIT", "STOP_LOSS"}
    exchange.control.set_price("AAPL", "196.00")  # the target
    exchange.control.advance(1)
    jobs.order_monitor()
    journal = _journal(db, jid)
    assert (journal["status"], journal["exit_reason_code"]) == ("CLOSED", "TARGET_HIT")
    assert journal["actual_pnl"] > 0 and _live(exchange) == []


def test_staged_daytrade_gets_a_stop_alone_and_a_short_mirrors(db, jobs, exchange):
    jobs = _staged(jobs)
    jid = _trade(db, jobs, side="SELL", trade_style="DAYTRADE",
                 entry_price="179.00", stop_loss="185.00", take_profit=None)
    jobs.order_monitor()
    [stop] = _live(exchange)
    # Alpaca holds a buy stop as a stop-limit 2.5% above (docs/paper-exchange.md).
    assert (stop["order_type"], stop["side"], stop["qty"], stop["time_in_force"]) == (
        "stop_limit", "buy", "10", "gtc") and stop["limit_price"] == "189.63"
    exchange.control.set_price("AAPL", "186.00")
    exchange.control.advance(1)
    jobs.order_monitor()
    journal = _journal(db, jid)
    assert (journal["status"], journal["exit_reason_code"]) == ("CLOSED", "STOPPED_OUT")
    # a short loses when the price rises: (entry - exit) x qty
    assert journal["actual_pnl"] == (journal["actual_entry_price"] - journal["exit_price"]) * 10
    assert journal["actual_pnl"] < 0


def test_staged_partial_fills_resize_the_protection(db, jobs, exchange):
    jobs = _staged(jobs)
    exchange.control.set_partial_fill(symbol="AAPL", ratio="0.3")
    jid = _trade(db, jobs, entry_price="181.00", stop_loss="175.00",
                 take_profit="195.00")
    jobs.order_monitor()
    assert [o["qty"] for o in _live(exchange) if o["side"] == "sell"] == ["3", "3"]
    exchange.control.set_partial_fill(symbol="AAPL", ratio=None)
    exchange.control.advance(5)  # the rest fills
    jobs.order_monitor()
    live = _live(exchange)
    # RESIZE: the first OCO (3) stays; a second OCO protects the 7 added shares (Alpaca
    # takes it: the first holds only its 3). Never a moment without a stop on any share.
    assert sorted(o["qty"] for o in live if o["side"] == "sell") == ["3", "3", "7", "7"], live
    ids = sorted(r["client_order_id"] for r in db.query("order_execution",
                                                        {"trade_journal_id": jid})
                 if r["purpose"] == "PROTECTION" and r["order_role"] == "TAKE_PROFIT")
    assert ids[0].endswith("take_profit") and ids[1].endswith("take_profit-2")
    assert _journal(db, jid)["actual_qty"] == D(10)


def test_a_gap_through_the_stop_is_booked_at_the_gap_price(db, jobs, exchange):
    jobs = _staged(jobs)
    jid = _trade(db, jobs, trade_style="DAYTRADE", take_profit=None,
                 entry_price="181.00", stop_loss="175.00")
    jobs.order_monitor()
    exchange.control.set_price("AAPL", "160.00")  # opens far below the stop
    exchange.control.advance(1)
    jobs.order_monitor()
    journal = _journal(db, jid)
    assert journal["status"] == "CLOSED" and journal["exit_price"] == D("160.00")
    assert journal["exit_slippage_bps"] > 0  # 15 below the 175 stop


def test_an_expired_day_entry_ends_expired(db, jobs, exchange):
    from datetime import datetime, timezone

    jobs = _staged(jobs)
    jid = _trade(db, jobs, trade_style="DAYTRADE", take_profit=None)
    exchange.control.set_clock(datetime(2026, 11, 20, 21, 1, tzinfo=timezone.utc))
    jobs.order_monitor()
    assert _journal(db, jid)["status"] == "EXPIRED"


def test_a_partly_filled_bracket_is_protected_within_its_window(db, jobs, exchange):
    jobs = jobs.with_settings(PARTIAL_ENTRY_TIMEOUT_SECONDS="60")
    exchange.control.set_partial_fill(symbol="AAPL", ratio="0.4")
    jid = _trade(db, jobs, entry_price="181.00", stop_loss="175.00",
                 take_profit="195.00")
    jobs.order_monitor()
    journal = _journal(db, jid)
    assert journal["status"] == "POSITION" and journal["protected_at"] is None
    # Alpaca holds a bracket's legs until the entry fills completely: no live stop yet.
    assert [o["status"] for o in _live(exchange) if o["order_type"] == "stop"] == ["held"]
    exchange.control.set_price("AAPL", "185.00")  # above the limit: the rest stays unfilled
    exchange.control.advance(61)  # the bounded window is over
    jobs.order_monitor()
    live = _live(exchange)
    stops = [o for o in live if o["order_type"] == "stop"]
    assert [(s["qty"], s["status"]) for s in stops] == [("4", "new")], live
    assert not [o for o in live if o["side"] == "buy"]  # the entry's rest is cancelled
    journal = _journal(db, jid)
    assert journal["protected_at"] is not None and journal["unprotected_seconds"] >= 60


def test_a_take_profit_partial_fill_leaves_the_stop_for_the_rest(db, jobs, exchange):
    jid = _trade(db, jobs, entry_price="181.00", stop_loss="175.00",
                 take_profit="195.00")
    jobs.order_monitor()
    exchange.control.set_partial_fill(symbol="AAPL", ratio="0.5")
    exchange.control.set_price("AAPL", "196.00")  # half the target fills
    exchange.control.set_price("AAPL", "190.00")  # and the price falls back
    jobs.order_monitor()
    journal = _journal(db, jid)
    [position] = db.query("position_tracking", {"trade_journal_id": jid})
    assert journal["status"] == "POSITION" and position["qty"] == D(5)
    [stop] = [o for o in _live(exchange) if o["order_type"] == "stop"]
    assert stop["qty"] == "5"  # shrunk to the shares left


def test_an_old_gtc_stop_that_fills_days_later_is_found_in_one_cycle(db, jobs, exchange):
    from datetime import datetime, timezone

    jobs = _staged(jobs)
    jid = _trade(db, jobs, entry_price="181.00", stop_loss="175.00",
                 take_profit="195.00")
    jobs.order_monitor()
    exchange.control.set_clock(datetime(2026, 11, 25, 15, 0, tzinfo=timezone.utc))
    exchange.control.set_price("AAPL", "170.00")
    exchange.control.advance(1)
    exchange.control.reset_counters()
    jobs.order_monitor()
    journal = _journal(db, jid)
    assert (journal["status"], journal["exit_reason_code"]) == ("CLOSED", "STOPPED_OUT")
    assert journal["exit_date"].date().isoformat() == "2026-11-25"  # the fill's time


def test_day_trades_are_flattened_before_the_close(db, jobs, exchange):
    from datetime import datetime, timezone

    jobs = _staged(jobs)
    jid = _trade(db, jobs, trade_style="DAYTRADE", take_profit=None,
                 entry_price="181.00", stop_loss="175.00")
    swing = _trade(db, _staged(jobs, BLOCK_DUPLICATE_ENTRY="false"),
                   entry_price="181.00", stop_loss="175.00", take_profit="195.00")
    jobs.order_monitor()
    exchange.control.set_clock(datetime(2026, 11, 20, 20, 49, tzinfo=timezone.utc))  # 15:49
    jobs.order_monitor()
    assert _journal(db, jid)["status"] == "POSITION"
    exchange.control.set_clock(datetime(2026, 11, 20, 20, 50, tzinfo=timezone.utc))  # 15:50
    report = jobs.order_monitor()
    exchange.control.advance(1)
    jobs.order_monitor()
    journal = _journal(db, jid)
    assert (journal["status"], journal["exit_reason_code"]) == ("CLOSED", "EOD_FLATTEN"), (
        report.actions)
    assert _journal(db, swing)["status"] == "POSITION"  # SWING positions stay


def test_a_half_day_flattens_at_1250(db, jobs, exchange):
    from datetime import datetime, timezone

    jobs = _staged(jobs)
    exchange.control.set_clock(datetime(2026, 11, 27, 15, 0, tzinfo=timezone.utc))  # 10:00
    jid = _trade(db, jobs, trade_style="DAYTRADE", take_profit=None,
                 entry_price="181.00", stop_loss="175.00")
    jobs.order_monitor()
    exchange.control.set_clock(datetime(2026, 11, 27, 17, 50, tzinfo=timezone.utc))  # 12:50
    jobs.order_monitor()
    exchange.control.advance(1)
    jobs.order_monitor()
    assert _journal(db, jid)["exit_reason_code"] == "EOD_FLATTEN"


def test_a_refused_stop_flattens_the_position_as_an_emergency(db, broker, jobs, exchange, caplog):
    jobs = _staged(jobs)
    jid = _trade(db, jobs, trade_style="DAYTRADE", take_profit=None,
                 entry_price="181.00", stop_loss="175.00")
    exchange.control.set_fault("POST /v2/orders", "http_status", status=403, code=40310000,
                               message="insufficient qty available for order", count=1)
    jobs.order_monitor()
    exchange.control.advance(1)
    jobs.order_monitor()
    journal = _journal(db, jid)
    assert (journal["status"], journal["exit_reason_code"]) == ("CLOSED", "EMERGENCY")
    assert "flattened at market" in journal["emergency_action"]
    assert any("ALERT" in r.message for r in caplog.records)
    assert broker.get_positions() == []


def test_retry_mode_keeps_trying_the_stop_every_cycle(db, jobs, exchange):
    jobs = _staged(jobs, STOP_FAILURE_ACTION="retry")
    jid = _trade(db, jobs, trade_style="DAYTRADE", take_profit=None,
                 entry_price="181.00", stop_loss="175.00")
    exchange.control.set_fault("POST /v2/orders", "http_status", status=403, count=1)
    jobs.order_monitor()
    assert "retrying protection" in _journal(db, jid)["emergency_action"]
    jobs.order_monitor()
    assert [o["order_type"] for o in _live(exchange)] == ["stop"]
    assert _journal(db, jid)["protected_at"] is not None


def test_an_entry_that_fills_while_its_cancel_is_pending_is_booked(db, jobs, exchange):
    jid = _trade(db, jobs)  # resting at 175
    exchange.control.set_cancel_behavior("pending", seconds=60)
    add_decision(db, {"ticker": "AAPL", "primary_action": "CANCEL",
                      "existing_trade_journal_id": jid})
    jobs.executor()  # deferred: pending_cancel
    exchange.control.set_price("AAPL", "174.00")  # fills before the cancel lands
    jobs.order_monitor()
    journal = _journal(db, jid)
    assert journal["status"] == "POSITION" and journal["actual_qty"] == D(10)
    assert journal["entry_slippage_bps"] is not None


def test_gtc_protection_near_its_expiry_is_renewed(db, jobs, exchange):
    from datetime import timedelta

    jobs = _staged(jobs)
    jid = _trade(db, jobs, entry_price="181.00", stop_loss="175.00",
                 take_profit="195.00")
    jobs.order_monitor()
    [first] = [o for o in _live(exchange) if o["order_type"] == "limit" and o["side"] == "sell"]
    expires = __import__("datetime").datetime.fromisoformat(
        first["expires_at"].replace("Z", "+00:00"))
    exchange.control.set_clock(expires - timedelta(days=4))
    report = jobs.order_monitor()
    [renewed] = [o for o in _live(exchange) if o["order_type"] == "limit"
                 and o["side"] == "sell"]
    assert renewed["id"] != first["id"], report.actions
    assert renewed["expires_at"] > first["expires_at"]
    assert _journal(db, jid)["status"] == "POSITION"


def test_flatten_untracked_closes_a_position_no_trade_explains(db, broker, jobs, exchange):
    from datetime import datetime, timezone

    from trading_monitor.broker.models import OrderRequest

    jobs = _staged(jobs, FLATTEN_UNTRACKED="true")
    broker.submit_order(OrderRequest(client_order_id="by-hand-1", symbol="MSFT", side="buy",
                                     qty=D(3), order_type="market", time_in_force="day"))
    exchange.control.advance(1)
    exchange.control.set_clock(datetime(2026, 11, 20, 20, 51, tzinfo=timezone.utc))  # 15:51
    jobs.order_monitor()  # first seen: waits out RECONCILE_GRACE_SECONDS
    exchange.control.advance(61)
    jobs.order_monitor()
    exchange.control.advance(1)
    jobs.order_monitor()
    [journal] = db.query("trade_journal", {"origin": "EXTERNAL"})
    assert (journal["symbol"], journal["status"], journal["exit_reason_code"]) == (
        "MSFT", "CLOSED", "EOD_FLATTEN")
    assert broker.get_positions() == []


def test_a_resting_order_changes_nothing(db, jobs, exchange):
    jid = _trade(db, jobs)  # limit 175 under a 180 market
    report = jobs.order_monitor()
    assert report.actions == [] and _journal(db, jid)["status"] == "PENDING"


def test_an_entry_cancelled_by_hand_at_the_broker_ends_cancelled(db, broker, jobs, exchange):
    jid = _trade(db, jobs)
    entry_row = [r for r in db.query("order_execution", {"trade_journal_id": jid})
                 if r["order_role"] == "ENTRY"][0]
    broker.cancel_order(entry_row["alpaca_order_id"])
    jobs.order_monitor()
    journal = _journal(db, jid)
    assert journal["status"] == "CANCELLED" and "nothing filled" in journal["exit_reason"]
    assert _live(exchange) == []  # its legs went with it


def test_a_broker_outage_is_temporary_and_loses_nothing(db, jobs, exchange):
    import pytest

    from trading_monitor.exceptions import TemporaryError

    jid = _trade(db, jobs, entry_price="181.00", stop_loss="175.00",
                 take_profit="195.00")
    exchange.control.set_fault("GET /v2/orders", "http_status", status=503, count=20)
    with pytest.raises(TemporaryError):
        jobs.order_monitor()
    [job] = db.query("job_run", {"job_name": "order_monitor"})
    assert job["status"] == "FAILED"
    exchange.control.clear_faults()
    jobs.order_monitor()
    assert _journal(db, jid)["status"] == "POSITION"


def test_a_tracked_order_the_broker_does_not_know_is_kept(db, jobs, exchange):
    jid = _trade(db, jobs)
    db.execute_update("UPDATE order_execution SET alpaca_order_id = "
                      "'00000000-0000-4000-8000-000000000000' WHERE order_role = 'ENTRY'")
    report = jobs.order_monitor()
    assert report.problems == [] and _journal(db, jid)["status"] == "PENDING"


def test_a_filled_bracket_is_flattened_legs_first(db, broker, jobs, exchange):
    from datetime import datetime, timezone

    jid = _trade(db, jobs, trade_style="DAYTRADE",
                 entry_price="181.00", stop_loss="175.00", take_profit="195.00")
    jobs.order_monitor()  # a filled bracket: target new, stop held
    exchange.control.set_clock(datetime(2026, 11, 20, 20, 50, tzinfo=timezone.utc))  # 15:50
    report = jobs.order_monitor()
    exchange.control.advance(1)
    jobs.order_monitor()
    journal = _journal(db, jid)
    assert (journal["status"], journal["exit_reason_code"]) == ("CLOSED", "EOD_FLATTEN"), (
        report.actions)
    assert broker.get_positions() == []


def test_after_the_close_a_day_trade_keeps_a_stop_and_no_exit_is_queued(db, jobs, exchange):
    from datetime import datetime, timezone

    jobs = _staged(jobs)
    jid = _trade(db, jobs, trade_style="DAYTRADE", take_profit=None,
                 entry_price="181.00", stop_loss="175.00")
    jobs.order_monitor()
    exchange.control.set_clock(datetime(2026, 11, 20, 21, 30, tzinfo=timezone.utc))  # closed
    jobs.order_monitor()  # no market exit waiting for the open: a stop
    jobs.order_monitor()
    live = _live(exchange)
    assert [o["order_type"] for o in live] == ["stop"], live
    # good for the whole next session (a GTC one, or a DAY one placed after the close)
    assert live[0]["time_in_force"] == "gtc" or live[0]["expires_at"] > "2026-11-23"
    assert _journal(db, jid)["status"] == "POSITION"


def test_a_failed_stop_is_retried_never_doubled(db, jobs, exchange):
    jobs = _staged(jobs)
    jid = _trade(db, jobs, trade_style="DAYTRADE", take_profit=None,
                 entry_price="181.00", stop_loss="175.00")
    exchange.control.set_fault("POST /v2/orders", "http_status", status=503, count=1000)
    jobs.order_monitor()
    jobs.order_monitor()
    exchange.control.clear_faults()
    jobs.order_monitor()
    journal = _journal(db, jid)
    assert journal["emergency_action"] is None and journal["protected_at"] is not None
    stops = [r for r in db.query("order_execution", {"trade_journal_id": jid})
             if r["order_role"] == "STOP_LOSS"]
    assert [r["order_status"] for r in stops] == ["new"]  # one intent, sent once
