"""R6: the daily loss limit is measured from the previous close (Alpaca's `last_equity`), not
from the equity of the day's first position-monitor run, so a loss overnight and before that
run counts. Deposits and withdrawals are left out of the day's loss."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from tests.helpers import add_decision, entry, outcome
from trading_monitor.domain.risk import net_cash_flow
from trading_monitor.engine.snapshots import loss_baseline

D = Decimal
MONDAY = date(2026, 11, 23)


def _ny(hour: int, minute: int) -> datetime:
    return datetime(2026, 11, 23, hour + 5, minute, tzinfo=timezone.utc)  # EST: UTC-5


def _gap_down_on_monday(db, jobs, exchange) -> None:
    """Friday: 100 AAPL bought at 180 (equity at Friday's close 100,000). Monday 09:30 it
    opens 9 lower: down 900 since the close, below the limit of 1,000."""
    d = add_decision(db, entry(quantity=100, entry_price="181.00", stop_loss="150.00",
                               take_profit="220.00"))
    jobs.executor()
    jobs.order_monitor()
    assert outcome(db, d)["terminal_state"] == "EXECUTED"
    exchange.control.set_clock(_ny(9, 30))
    exchange.control.set_price("AAPL", "171.00")


def _late_entry(db, jobs) -> dict:
    d = add_decision(db, entry("MSFT", entry_price="419.00", stop_loss="410.00",
                               take_profit="440.00", quantity=1))
    jobs.executor()
    return outcome(db, d)


def test_a_gap_down_before_the_first_run_counts_towards_the_daily_loss(
        db, jobs, broker, exchange):
    jobs = jobs.with_settings(MAX_DAILY_LOSS="1000")
    _gap_down_on_monday(db, jobs, exchange)
    account = broker.get_account()
    assert (account.last_equity, account.equity) == (D("100000"), D("99100"))
    jobs.position_monitor()
    [day] = db.query("daily_equity", {"trading_day": MONDAY})
    assert day["start_equity"] == D("100000")  # the previous close, not 99,100
    assert not _halt(db)
    # 10:00 at 162: down 1,800 since Friday's close (900 since the first run).
    exchange.control.set_clock(_ny(10, 0))
    exchange.control.set_price("AAPL", "162.00")
    result = _late_entry(db, jobs)  # the executor's own check
    assert result["terminal_state"] == "REJECTED"
    assert "daily loss limit reached: down 1800.00" in result["reason"]
    jobs.position_monitor()  # the position monitor's guard
    assert _halt(db) == MONDAY.isoformat()


def _halt(db) -> str | None:
    rows = db.query("system_state", {"key": "halt_daily_loss"})
    return rows[0]["value"] if rows and rows[0]["value"] else None


def test_a_withdrawal_is_not_a_loss_and_a_deposit_not_a_gain(db, jobs, broker, exchange):
    jobs = jobs.with_settings(MAX_DAILY_LOSS="1000")
    _gap_down_on_monday(db, jobs, exchange)
    # 500 withdrawn: equity 98,600, but only 900 of it is a loss.
    exchange.control._call("POST", "/control/cash_activity",
                           {"activity_type": "CSW", "amount": "500"})
    jobs.position_monitor()
    assert not _halt(db)
    # 5,000 deposited, then AAPL at 162: equity 102,700 is above Friday's close, yet the
    # day has lost 1,800.
    exchange.control._call("POST", "/control/cash_activity",
                           {"activity_type": "CSD", "amount": "5000"})
    exchange.control.set_clock(_ny(10, 0))
    exchange.control.set_price("AAPL", "162.00")
    assert broker.get_account().equity == D("102700")
    result = _late_entry(db, jobs)
    assert result["terminal_state"] == "REJECTED"
    assert "daily loss limit reached: down 1800.00" in result["reason"]
    jobs.position_monitor()
    assert _halt(db) == MONDAY.isoformat()


def test_deposits_and_withdrawals_move_the_baseline_not_the_loss(db, broker):
    account = broker.get_account()  # a fresh paper account: 100,000 at the last close
    flows = net_cash_flow([("CSD", D("5000")), ("CSW", D("-2000")), ("CSW", D("500")),
                           ("FILL", D("999")), ("DIV", D("12.50"))])
    assert flows == D("2500")
    # No row yet: the previous close, plus the day's net deposits.
    assert loss_baseline(db, MONDAY, account, flows) == D("102500")
    db.insert("daily_equity", {"trading_day": MONDAY, "start_equity": D("99000")})
    # The stored baseline wins (it was fixed at the day's START snapshot).
    assert loss_baseline(db, MONDAY, account, flows) == D("101500")
