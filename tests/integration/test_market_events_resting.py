"""A short whose protective buy stop triggers on a gap and rests (issue 21): Alpaca holds a
buy stop as a stop-limit, so a gap through its limit leaves it triggered and unfilled. With
RESTING_STOP_ACTION=close it is covered at market with an ALERT; with `alert`, only the ALERT.
Played with a plain stop (staged) and with bracket legs converted too (UNCONFIRMED)."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from tests.helpers import add_decision, entry, outcome

D = Decimal


@pytest.mark.parametrize(("mode", "legs"), [("staged", False), ("bracket", True)])
@pytest.mark.parametrize("action", ["close", "alert"])
def test_a_shorts_stop_gapped_through_rests_and_is_not_protection(
        db, jobs, exchange, caplog, mode, legs, action):
    jobs = jobs.with_settings(PROTECTION_MODE=mode, RESTING_STOP_ACTION=action)
    exchange.control.set_rules(buy_stop_limit_legs=legs)
    exchange.control.set_prices({"AAPL": "100.00"})
    # staged: a DAYTRADE's plain stop (GTC); bracket: a SWING's stop leg, converted too.
    style = {"trade_style": "DAYTRADE", "take_profit": None} if mode == "staged" else {}
    d = add_decision(db, entry(**{"side": "SELL", "entry_price": "99.90", "stop_loss": "103.00",
                                  "take_profit": "90.00", "quantity": 10, **style}))
    jobs.executor()
    exchange.control.advance(1)
    jobs.order_monitor()
    jid = int(outcome(db, d)["trade_journal_id"])
    (stop,) = [o for o in _orders(exchange) if o["type"] == "stop_limit"]
    assert (D(stop["stop_price"]), D(stop["limit_price"])) == (D(103), D("105.58"))
    exchange.control.set_prices({"AAPL": "110.00"})  # a gap through the limit
    assert D(exchange.control.state()["positions"][0]["qty"]) == D(-10)  # still short
    with caplog.at_level(logging.ERROR):
        jobs.position_monitor()
        jobs.position_monitor()
    alerts = [r.getMessage() for r in caplog.records
              if getattr(r, "alert_kind", None) == "resting_stop"]
    assert len(alerts) == 1 and "triggered and rests unfilled" in alerts[0], alerts
    j = db.get_by_id("trade_journal", jid)
    if action == "close":
        assert exchange.control.state()["positions"] == []
        jobs.order_monitor()
        j = db.get_by_id("trade_journal", jid)
        assert (j["status"], j["exit_reason_code"]) == ("CLOSED", "EMERGENCY")
        assert j["actual_pnl"] == (j["actual_entry_price"] - D(110)) * 10 - (j["fees"] or 0)
    else:
        assert j["status"] == "POSITION"
        assert D(exchange.control.state()["positions"][0]["qty"]) == D(-10)


def _orders(exchange):  # type: ignore[no-untyped-def]
    found = []
    for o in exchange.control.orders():
        found += [o, *(o.get("legs") or [])]
    return [o for o in found if o["status"] in ("new", "held", "accepted")]


AFTER_THE_CLOSE = datetime(2026, 11, 20, 21, 30, tzinfo=timezone.utc)  # Fri 16:30 New York
NEXT_OPEN = datetime(2026, 11, 23, 14, 31, tzinfo=timezone.utc)  # Mon 09:31 New York


def test_a_gap_after_the_close_leaves_the_stop_as_it_is_until_the_open(
        db, jobs, exchange, caplog):
    """Alpaca triggers stops only in the session: a price beyond a short's stop-limit after
    the close has not triggered it. The stop stays (no cancel, no market cover waiting for
    the open, no ALERT); at the open, the market through it, it triggers and rests, and the
    position is covered then."""
    jobs = jobs.with_settings(PROTECTION_MODE="staged", RESTING_STOP_ACTION="close")
    exchange.control.set_rules(buy_stop_limit_legs=True)  # an OCO's stop leg converted too
    exchange.control.set_prices({"AAPL": "100.00"})
    d = add_decision(db, entry(side="SELL", entry_price="99.90", stop_loss="103.00",
                               take_profit="90.00", quantity=10, trade_style="SWING"))
    jobs.executor()
    exchange.control.advance(1)
    jobs.order_monitor()
    jid = int(outcome(db, d)["trade_journal_id"])
    (stop,) = [o for o in _orders(exchange) if o["type"] == "stop_limit"]
    exchange.control.set_clock(AFTER_THE_CLOSE)
    exchange.control.set_prices({"AAPL": "110.00"})  # after hours, through stop and limit
    with caplog.at_level(logging.ERROR):
        jobs.position_monitor()
        jobs.position_monitor()
    assert not [r for r in caplog.records if getattr(r, "alert_kind", None) == "resting_stop"]
    live = {o["id"]: o for o in _orders(exchange)}
    assert stop["id"] in live and live[stop["id"]]["status"] in ("new", "accepted")
    assert not [o for o in _orders(exchange) if o["type"] == "market"]
    assert D(exchange.control.state()["positions"][0]["qty"]) == D(-10)
    j = db.get_by_id("trade_journal", jid)
    assert j["status"] == "POSITION"
    [row] = db.execute_query("SELECT order_status FROM order_execution WHERE "
                             "alpaca_order_id = %s", [stop["id"]])
    assert row["order_status"] in ("new", "accepted")

    exchange.control.set_clock(NEXT_OPEN)
    exchange.control.set_prices({"AAPL": "110.00"})  # the open prints through it
    with caplog.at_level(logging.ERROR):
        jobs.position_monitor()
    alerts = [r.getMessage() for r in caplog.records
              if getattr(r, "alert_kind", None) == "resting_stop"]
    assert len(alerts) == 1 and "triggered and rests unfilled" in alerts[0], alerts
    assert exchange.control.state()["positions"] == []
