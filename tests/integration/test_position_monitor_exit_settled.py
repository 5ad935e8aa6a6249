"""The position monitor's own market exits close their trade in the run that sends them: the
run never ends with our books holding shares the broker has sold.

- A short's buy stop gapped through rests (RESTING_STOP_ACTION=close): the cover at market
  fills at once; the same run books its fill and closes the trade (found by the lifecycle
  model's --slow run, seed 20261207: "after reconciliation AAPL: tables -11, broker 0";
  replay RESTING_STOP_COVER_FILLED_BUT_THE_POSITION_KEPT in
  tests/model/test_model_regressions.py).
- An approved target's exit at market: the same.
"""

from __future__ import annotations

from decimal import Decimal

from tests.helpers import add_decision, entry, outcome
from tests.support.jobs import Jobs

D = Decimal


def _jobs(jobs: Jobs) -> Jobs:
    return jobs.with_settings(PROTECTION_MODE="staged", RESTING_STOP_ACTION="close")


def _fills(db, jid):
    return {side: sum((f["qty"] for f in db.query("fills", {"trade_journal_id": jid})
                       if f["side"] == side), D(0)) for side in ("buy", "sell")}


def test_a_resting_stops_cover_closes_the_short_in_the_same_run(db, jobs, exchange):
    jobs = _jobs(jobs)
    exchange.control.set_prices({"AAPL": "100.00"})
    d = add_decision(db, entry(side="SELL", entry_price="99.90", stop_loss="103.00",
                               take_profit=None, quantity=10, trade_style="DAYTRADE"))
    jobs.executor()
    exchange.control.advance(1)
    jobs.order_monitor()  # the plain stop: a buy stop-limit 103 / 105.58
    jid = int(outcome(db, d)["trade_journal_id"])
    exchange.control.set_prices({"AAPL": "110.00"})  # a gap through its limit: it rests
    assert [D(p["qty"]) for p in exchange.control.state()["positions"]] == [D(-10)]

    report = jobs.position_monitor()  # one run: cover at market, book, close

    assert exchange.control.state()["positions"] == []
    covers = [o for o in exchange.control.orders() if o["side"] == "buy"
              and o["order_type"] == "market"]
    assert [(o["qty"], o["status"]) for o in covers] == [("10", "filled")], report.actions
    j = db.get_by_id("trade_journal", jid)
    assert (j["status"], j["exit_reason_code"]) == ("CLOSED", "EMERGENCY"), report.actions
    assert j["exit_price"] == D(covers[0]["filled_avg_price"]) == D(110)
    assert j["actual_pnl"] == (j["actual_entry_price"] - D(110)) * 10 - (j["fees"] or 0)
    assert _fills(db, jid) == {"sell": D(10), "buy": D(10)}
    assert db.query("position_tracking", {"trade_journal_id": jid}) == []


def test_an_approved_targets_exit_closes_the_trade_in_the_same_run(db, jobs, exchange):
    jobs = _jobs(jobs)
    d = add_decision(db, entry(entry_price="181.00", stop_loss="175.00",
                               take_profit="190.00", trade_style="DAYTRADE"))
    jobs.executor()
    jobs.order_monitor()  # staged DAYTRADE: a stop alone, no target order
    jid = int(outcome(db, d)["trade_journal_id"])
    exchange.control.set_price("AAPL", "191.00")
    jobs.position_monitor()  # records the target reached
    db.execute_update("UPDATE position_tracking SET exit_approved = true "
                      "WHERE trade_journal_id = %s", [jid])  # the NocoDB checkbox

    report = jobs.position_monitor()  # one run: cancel the stop, sell, close

    assert exchange.control.state()["positions"] == []
    j = db.get_by_id("trade_journal", jid)
    assert (j["status"], j["exit_reason_code"]) == ("CLOSED", "TARGET_HIT"), report.actions
    assert j["exit_price"] == D(191)
    assert _fills(db, jid) == {"buy": D(10), "sell": D(10)}
    assert db.query("position_tracking", {"trade_journal_id": jid}) == []
