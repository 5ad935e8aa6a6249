"""`trading-monitor report --period week|month` and `--from/--to`, whole and `--by symbol`:
trades made by the real jobs on the paper exchange over two calendar months, and every figure
checked against the books' own rows."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from tests.conftest import exchange_env
from tests.helpers import add_decision, entry, outcome
from trading_monitor.cli.report import main
from trading_monitor.report.period import calendar_period

D = Decimal
DAYS = 24 * 3600


@pytest.fixture
def trades(db, jobs, exchange):
    """Fri 2026-11-20: AAPL reaches its target, MSFT its stop; Tue 2026-12-01: NVDA its
    target. Returns the three journal ids."""
    aapl = add_decision(db, entry("AAPL", entry_price="181.00", stop_loss="175.00",
                                  take_profit="190.00"))
    msft = add_decision(db, entry("MSFT", entry_price="421.00", stop_loss="410.00",
                                  take_profit="440.00"))
    jobs.executor()
    jobs.order_monitor()
    exchange.control.set_prices({"AAPL": "191.00", "MSFT": "409.00"})
    exchange.control.advance(1)
    jobs.order_monitor()
    exchange.control.advance(11 * DAYS)  # Tuesday 1 December, in session
    exchange.control.set_price("NVDA", "130.00")
    nvda = add_decision(db, entry("NVDA", entry_price="131.00", stop_loss="125.00",
                                  take_profit="140.00"))
    jobs.executor()
    jobs.order_monitor()
    exchange.control.set_price("NVDA", "141.00")
    exchange.control.advance(1)
    jobs.order_monitor()
    ids = [int(outcome(db, d)["trade_journal_id"]) for d in (aapl, msft, nvda)]
    rows = [db.get_by_id("trade_journal", i) for i in ids]
    assert [(r["status"], r["exit_reason_code"]) for r in rows] == [
        ("CLOSED", "TARGET_HIT"), ("CLOSED", "STOPPED_OUT"), ("CLOSED", "TARGET_HIT")]
    assert [r["exit_date"].date() for r in rows] == [date(2026, 11, 20), date(2026, 11, 20),
                                                     date(2026, 12, 1)]
    return rows


@pytest.fixture
def cli(monkeypatch, tmp_path, db_params, exchange):
    for key, value in exchange_env(exchange).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DATABASE_URL", " ".join(f"{k}={v}" for k, v in db_params.items() if v))
    monkeypatch.chdir(tmp_path)


def _json(capsys, *argv: str) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _r(t) -> Decimal:
    return (D(t["actual_pnl"]) / D(t["actual_qty"]) / (t["actual_entry_price"]
                                                       - t["planned_stop_loss"]))


def test_calendar_periods():
    assert calendar_period("week", date(2026, 11, 20)).label == "2026-11-16 to 2026-11-22"
    assert calendar_period("month", date(2026, 2, 10)).label == "2026-02-01 to 2026-02-28"
    assert calendar_period("week", date(2026, 12, 31)).label == "2026-12-28 to 2027-01-03"


def test_week_month_and_range_reports_agree_with_the_books(trades, cli, capsys):
    aapl, msft, nvda = trades
    week = _json(capsys, "--period", "week", "--date", "2026-11-20", "--by", "symbol")
    assert (week["from"], week["to"]) == ("2026-11-16", "2026-11-22")
    total = week["total"]
    assert total["trades_closed"] == 2 and total["trades_entered"] == 2
    assert D(total["realised_pnl"]) == aapl["actual_pnl"] + msft["actual_pnl"]
    assert (total["winners"], total["losers"], total["win_rate_pct"]) == (1, 1, "50.0")
    r_aapl = _r(aapl).quantize(D("0.01"))
    r_msft = ((D(msft["actual_pnl"]) / 10) / (msft["actual_entry_price"] - D("410.00"))
              ).quantize(D("0.01"))
    assert D(total["average_r"]) == ((r_aapl + r_msft) / 2).quantize(D("0.01"))
    assert set(week["by_symbol"]) == {"AAPL", "MSFT"}
    assert D(week["by_symbol"]["AAPL"]["realised_pnl"]) == aapl["actual_pnl"]
    assert week["by_symbol"]["MSFT"]["win_rate_pct"] == "0.0"
    # Entry slippage: basis points paid above the limit asked (negative: better), averaged.
    def bps(asked: str, paid: D) -> D:
        return ((D(paid) - D(asked)) / D(asked) * 10_000).quantize(D("0.01"))
    assert D(total["entry_slippage_bps_avg"]) == (
        (bps("181.00", aapl["actual_entry_price"]) + bps("421.00", msft["actual_entry_price"]))
        / 2).quantize(D("0.01"))
    # The protection window: bracket entries are protected by their own legs.
    assert total["protected_entries"] == 2 and total["never_protected"] == 0
    assert D(total["protection_seconds_max"]) == max(aapl["unprotected_seconds"],
                                                     msft["unprotected_seconds"])

    december = _json(capsys, "--period", "month", "--date", "2026-12-01")
    assert (december["from"], december["to"]) == ("2026-12-01", "2026-12-31")
    assert december["total"]["trades_closed"] == 1
    assert D(december["total"]["realised_pnl"]) == nvda["actual_pnl"] > 0
    assert "by_symbol" not in december

    both = _json(capsys, "--from", "2026-11-01", "--to", "2026-12-31", "--by", "symbol")
    assert both["total"]["trades_closed"] == 3
    assert D(both["total"]["realised_pnl"]) == sum(t["actual_pnl"] for t in trades)
    assert both["total"]["win_rate_pct"] == "66.7"
    assert list(both["by_symbol"]) == ["AAPL", "MSFT", "NVDA"]

    assert main(["--period", "week", "--date", "2026-11-20", "--by", "symbol"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0] == "# Trading report 2026-11-16 to 2026-11-22"
    rows = [line for line in table if line.startswith("| ")]
    assert [r.split(" | ")[0] for r in rows[1:]] == ["| **all**", "| AAPL", "| MSFT"]
    assert f"| {aapl['actual_pnl']:+,.2f} |" in rows[2]


def test_an_empty_period_and_usage_errors(db, cli, capsys):
    empty = _json(capsys, "--from", "2026-01-05", "--to", "2026-01-09")
    assert empty["total"]["trades_closed"] == 0 and empty["total"]["win_rate_pct"] is None
    for argv in (["--period", "week", "--from", "2026-01-05", "--to", "2026-01-09"],
                 ["--from", "2026-01-05"], ["--from", "2026-01-09", "--to", "2026-01-05"],
                 ["--by", "symbol"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
