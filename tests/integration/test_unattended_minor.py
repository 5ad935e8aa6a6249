"""Issue 28, the minor points, through the jobs on the paper exchange: a NO_ACTION with
nothing to age ends SKIPPED; prices in log lines and event messages are on their tick."""

from __future__ import annotations

import logging
import re

from tests.helpers import add_decision, entry, outcome

LONG_DECIMAL = re.compile(r"\d\.\d{5,}")


def test_a_no_action_with_nothing_to_age_is_skipped(db, jobs):
    nothing = add_decision(db, {"ticker": "MSFT", "primary_action": "NO_ACTION",
                                "reasoning": "thesis intact"})
    opened = add_decision(db, entry(entry_price="181.00", stop_loss="175.00",
                                    take_profit="195.00"))
    jobs.executor()
    aged = add_decision(db, {"ticker": "AAPL", "primary_action": "NO_ACTION",
                             "reasoning": "thesis intact"})
    jobs.executor()
    assert (outcome(db, nothing)["terminal_state"], outcome(db, nothing)["reason"]) == (
        "SKIPPED", "no action; no open trade for MSFT to age")
    assert outcome(db, opened)["terminal_state"] == "EXECUTED"
    assert outcome(db, aged)["terminal_state"] == "EXECUTED"
    assert "1 day(s) open" in outcome(db, aged)["reason"]


def test_prices_in_logs_and_events_are_on_their_tick(db, jobs, exchange, caplog):
    caplog.set_level(logging.INFO)
    exchange.control.set_partial_fill("AAPL", "0.3")  # two fills: an average entry price
    d = add_decision(db, entry(entry_price="181.00", stop_loss="175.00",
                               take_profit="195.00"))
    jobs.executor()
    exchange.control.set_prices({"AAPL": "180.37"})  # the rest fills at another price
    jobs.order_monitor()
    jobs.order_monitor()
    jid = outcome(db, d)["trade_journal_id"]
    avg = db.get_by_id("trade_journal", jid)["actual_entry_price"]
    assert avg is not None
    lines = [r.getMessage() for r in caplog.records if "@" in r.getMessage()]
    events = [r["message"] for r in db.query("event_log") if "@" in (r["message"] or "")]
    print("\n".join(lines + events))
    assert any(re.search(r"@ \d+\.\d\d\b", text) for text in lines + events)
    assert not [t for t in lines + events if LONG_DECIMAL.search(t)], lines + events
