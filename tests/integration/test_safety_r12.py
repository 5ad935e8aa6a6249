"""R12: no DAYTRADE entry after the flatten time (the close minus EOD_FLATTEN_MINUTES).

The executor runs until 16:00 (16:02 with its slack): a DAYTRADE entered at 15:56 that fills
at 15:59 would be carried overnight, its exit at market queued for the next open. It is
SKIPPED instead, with the reason; a DAYTRADE entry still resting at the flatten time is
withdrawn on the broker's final word, and every end-of-day exit goes out in the session.
"""

from __future__ import annotations

from datetime import datetime, timezone

from tests.helpers import add_decision, entry, outcome
from tests.support.jobs import Jobs

LIVE = {"new", "accepted", "held", "partially_filled", "pending_cancel"}


def _at(hour, minute):
    return datetime(2026, 11, 20, hour, minute, tzinfo=timezone.utc)  # Friday, UTC


def _jobs(jobs: Jobs) -> Jobs:
    return jobs.with_settings(BLOCK_DUPLICATE_ENTRY="false")


def test_a_daytrade_entry_after_the_flatten_time_is_skipped(db, jobs, exchange):
    jobs = _jobs(jobs)
    exchange.control.set_clock(_at(20, 49))  # 15:49: still allowed
    early = add_decision(db, entry(trade_style="DAYTRADE", take_profit=None))
    jobs.executor()
    assert outcome(db, early)["terminal_state"] == "EXECUTED"
    exchange.control.set_clock(_at(20, 56))  # 15:56
    late = add_decision(db, entry("MSFT", trade_style="DAYTRADE", entry_price="419.00",
                                  stop_loss="410.00", take_profit=None))
    swing = add_decision(db, entry("NVDA", entry_price="129.00", stop_loss="125.00",
                                   take_profit="140.00"))
    jobs.executor()
    result = outcome(db, late)
    assert result["terminal_state"] == "SKIPPED", result["reason"]
    assert "flatten time" in result["reason"] and "15:50" in result["reason"]
    assert [o for o in exchange.control.orders() if o["symbol"] == "MSFT"] == []
    assert outcome(db, swing)["terminal_state"] == "EXECUTED"  # SWING entries still go


def test_a_daytrade_entry_resting_at_the_flatten_time_is_withdrawn(db, jobs, exchange):
    jobs = _jobs(jobs)
    d = add_decision(db, entry(trade_style="DAYTRADE", take_profit=None))  # rests at 175
    jobs.executor()
    jid = outcome(db, d)["trade_journal_id"]
    exchange.control.set_clock(_at(20, 50))  # 15:50
    jobs.order_monitor()
    assert [o for o in exchange.control.orders() if o["status"] in LIVE] == []
    assert db.get_by_id("trade_journal", jid)["status"] in ("CANCELLED", "EXPIRED")
