"""OWN-EXIT (found by the lifecycle model: "the books never hold more than the broker"): an
exit the order monitor sends that fills at once (the end-of-day flatten's market exit) is
booked as a fill and its trade is closed in the same run, on that final word; before, the
trade stayed POSITION with its shares in position_tracking until the next cycle while the
broker held none."""

from __future__ import annotations

from datetime import datetime, timezone

from tests.helpers import add_decision, entry, outcome


def test_the_flattens_filled_exit_closes_the_trade_in_the_same_run(db, jobs, exchange):
    staged = jobs.with_settings(PROTECTION_MODE="staged")
    d = add_decision(db, entry(trade_style="DAYTRADE", take_profit=None, entry_price="181.00",
                               stop_loss="175.00", quantity=4))  # marketable: fills at once
    staged.executor()
    jid = int(outcome(db, d)["trade_journal_id"])
    staged.order_monitor()
    assert db.get_by_id("trade_journal", jid)["status"] == "POSITION"
    exchange.control.set_clock(datetime(2026, 11, 20, 20, 50, 30, tzinfo=timezone.utc))  # 15:50
    staged.order_monitor()  # one run: the flatten's exit, filled at once

    assert [p for p in exchange.control.state()["positions"] if p["symbol"] == "AAPL"] == []
    journal = db.get_by_id("trade_journal", jid)
    assert (journal["status"], journal["exit_reason_code"]) == ("CLOSED", "EOD_FLATTEN")
    assert all(r["qty"] == 0 for r in db.query("position_tracking", {"trade_journal_id": jid}))
    sold = db.execute_query("SELECT coalesce(sum(qty), 0) AS qty FROM fills WHERE "
                            "trade_journal_id = %s AND side = 'sell'", [jid])[0]["qty"]
    assert sold == 4
