"""A halt of a held symbol (issue 21), played by the paper exchange's halt: nothing prints,
so the source is "no trade printed for HALT_SUSPECT_MINUTES while the session is open" (the
market-data statuses channel is not read). The halt is flagged (ALERT, status, health
WARNING), the stop is kept as it is, a new entry waits; the price gaps through the stop
meanwhile. At the reopening print the stop fills, or, when Alpaca cancels the stop that
print elected, it is re-placed at once (no hand-cancel grace)."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from tests.helpers import add_decision, entry, outcome
from tests.integration.test_market_events_splits import enter_and_trail, live_exits
from trading_monitor.cli import status
from trading_monitor.engine.health_base import Context
from trading_monitor.engine.symbol_halts import check_symbol_halts

D = Decimal


@pytest.mark.parametrize("cancel_elected", [False, True])
def test_a_halt_is_flagged_protection_kept_entries_wait(
        db, jobs, db_params, broker, settings, exchange, caplog, cancel_elected):
    jid = enter_and_trail(db, db_params, broker, settings, exchange, "AAPL", "180.00", 10,
                          "170.00", "220.00", "195.00")  # stop at 180.00 (break-even)
    exchange.control.halt("AAPL", cancel_elected_stops_at_reopen=cancel_elected)
    exchange.control.set_prices({"AAPL": "150.00"})  # queued: the reopening print
    exchange.control.advance(6 * 60)
    with caplog.at_level(logging.ERROR):
        jobs.position_monitor()
        jobs.position_monitor()
    alerts = [r.getMessage() for r in caplog.records
              if getattr(r, "alert_kind", None) == "symbol_halt"]
    assert len(alerts) == 1 and "AAPL: no trade printed for 5 min" in alerts[0], alerts
    assert live_exits(exchange, "AAPL")["stop"] == (D(10), D(180))  # kept as it is
    assert set(status.gather(db, settings, exchange.venue.clock.now())["symbols_halted"]) == {
        "AAPL"}
    health = check_symbol_halts(db, Context(settings=settings, now=exchange.venue.clock.now()))
    assert (health.state, health.detail["symbols"]) == ("WARNING", ["AAPL"])
    waiting = add_decision(db, entry("AAPL", entry_price="181.00", stop_loss="175.00",
                                     take_profit="195.00", quantity=1))
    jobs.executor()
    assert db.get_by_id("analysis_decision", waiting)["executed"] is False  # deferred
    exchange.control.halt("AAPL", halted=False)  # reopens at 150
    jobs.order_monitor()
    j = db.get_by_id("trade_journal", jid)
    if not cancel_elected:
        assert (j["status"], j["exit_reason_code"]) == ("CLOSED", "STOPPED_OUT")
        assert j["actual_pnl"] == (D(150) - D(180)) * 10 - (j["fees"] or 0)
    else:  # the elected stop was cancelled by Alpaca: protection is placed again at once
        # (no hand-cancel grace); a stop at 180 above the market at 150 is refused, so the
        # position is closed at market (STOP_FAILURE_ACTION=flatten), not left naked.
        jobs.order_monitor()
        j = db.get_by_id("trade_journal", jid)
        assert (j["status"], j["exit_reason_code"]) == ("CLOSED", "EMERGENCY")
        assert not [e for e in db.query("event_log", {"entity": "trade_journal",
                                                      "entity_id": jid})
                    if e["event"] == "stop_cancelled_by_hand"]
    jobs.position_monitor()
    assert status.gather(db, settings, exchange.venue.clock.now())["symbols_halted"] == {}
    jobs.executor()
    assert db.get_by_id("analysis_decision", waiting)["executed"] is True
    assert outcome(db, waiting)["terminal_state"] in ("EXECUTED", "REJECTED")


def test_a_daytrade_halted_through_the_close_keeps_its_gtc_stop(db, jobs, exchange):
    jobs = jobs.with_settings(PROTECTION_MODE="staged")
    d = add_decision(db, entry(trade_style="DAYTRADE", take_profit=None, entry_price="181.00",
                               stop_loss="175.00"))
    jobs.executor()
    exchange.control.advance(1)
    jobs.order_monitor()
    exchange.control.set_clock(datetime(2026, 11, 20, 20, 30, tzinfo=timezone.utc))  # 15:30
    exchange.control.halt("AAPL")
    exchange.control.advance(6 * 60)
    jobs.position_monitor()  # flagged: no print for 5 minutes
    exchange.control.set_clock(datetime(2026, 11, 20, 20, 50, tzinfo=timezone.utc))  # 15:50
    report = jobs.order_monitor()  # the end-of-day flatten
    assert any("not tradable now (halted): its stop stays" in a for a in report.actions), \
        report.actions
    orders = [o for o in exchange.control.orders() if o["symbol"] == "AAPL"]
    assert not [o for o in orders if o["type"] == "market" and o["side"] == "sell"]
    live = [o for o in orders if o["type"] == "stop" and o["status"] in ("new", "held")]
    assert [(o["qty"], o["time_in_force"]) for o in live] == [("10", "gtc")]
    jid = int(outcome(db, d)["trade_journal_id"])
    assert db.get_by_id("trade_journal", jid)["status"] == "POSITION"
