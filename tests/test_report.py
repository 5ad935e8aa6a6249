"""The daily report: a realistic day seeded by the real jobs against the paper exchange, then
the report's JSON figures checked against the fills, its PNG and Markdown, the daemon's
daily_report job on the schedule and its delivery through apprise."""

from __future__ import annotations

import json
import threading
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import pytz

from tests.conftest import exchange_env
from tests.helpers import add_decision, entry, exchange_now, monitor, outcome, run, watch
from trading_monitor.config import load_settings
from trading_monitor.db_layer import TradingDB
from trading_monitor.report import ReportFiles, write_report
from trading_monitor.report.markdown import SECTIONS

D = Decimal
NY = pytz.timezone("America/New_York")
DAY = date(2026, 11, 20)  # the exchange fixture's Friday
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _settings(exchange, **env):
    base = {"PROTECTION_MODE": "staged", "RECONCILE_GRACE_SECONDS": "60",
            "BLOCK_DUPLICATE_ENTRY": "false", "MAX_DAILY_LOSS": "off"}
    return load_settings(exchange_env(exchange, **{**base, **env}), need_broker=True)


def _cycle(db_params, broker, settings, exchange, seconds: int = 1) -> None:
    exchange.control.advance(seconds)
    monitor(db_params, broker, settings)
    watch(db_params, broker, settings)


def _trade_of(db: TradingDB, decision_id: int) -> int:
    return int(outcome(db, decision_id)["trade_journal_id"])


@pytest.fixture
def day(db, db_params, broker, exchange):
    """Friday 20 November 2026 as the jobs live it: AAPL stopped out (a loss), MSFT at its
    take profit (a win), an NVDA short at its target waiting for approval, TSLA still open,
    one decision rejected (no stop loss) and one skipped (NO_ACTION)."""
    settings = _settings(exchange)
    aapl = add_decision(db, entry("AAPL", entry_price="181.00", stop_loss="175.00",
                                  take_profit="195.00", quantity=10))
    msft = add_decision(db, entry("MSFT", entry_price="421.00", stop_loss="410.00",
                                  take_profit="440.00", quantity=5))
    nvda = add_decision(db, entry("NVDA", side="SELL", trade_style="DAYTRADE",
                                  entry_price="129.50", stop_loss="135.00",
                                  take_profit="120.00", quantity=20))
    tsla = add_decision(db, entry("TSLA", entry_price="251.00", stop_loss="240.00",
                                  take_profit="280.00", quantity=4))
    no_stop = add_decision(db, entry("AMD", stop_loss=None, entry_price="150.00"))
    hold = add_decision(db, {"ticker": "SPY", "primary_action": "NO_ACTION",
                             "reasoning": "thesis intact"})
    run(db_params, broker, settings)
    _cycle(db_params, broker, settings, exchange)
    ids = {name: _trade_of(db, d) for name, d in
           (("aapl", aapl), ("msft", msft), ("nvda", nvda), ("tsla", tsla))}
    assert all(db.get_by_id("trade_journal", j)["status"] == "POSITION" for j in ids.values())
    exchange.control.set_prices({"AAPL": "174.00", "MSFT": "441.00", "NVDA": "119.00",
                                 "TSLA": "255.00"})
    for _ in range(3):
        _cycle(db_params, broker, settings, exchange, 30)
    assert db.get_by_id("trade_journal", ids["aapl"])["status"] == "CLOSED"
    assert db.get_by_id("trade_journal", ids["msft"])["status"] == "CLOSED"
    return {"settings": settings, "trades": ids, "rejected": no_stop, "skipped": hold}


def _report(db, tmp_path) -> tuple[ReportFiles, dict]:
    files = write_report(db, DAY, tmp_path / "reports")
    return files, json.loads(files.json.read_text())


def test_the_report_of_a_day_matches_the_fills(db, day, tmp_path):
    files, report = _report(db, tmp_path)
    ids = day["trades"]
    closed = {t["trade_id"]: t for t in report["trades_closed"]}
    assert set(closed) == {ids["aapl"], ids["msft"]}
    fills = db.execute_query(
        "SELECT f.trade_journal_id, sum(CASE WHEN f.side = 'sell' THEN f.qty * f.price "
        "ELSE -f.qty * f.price END) AS cash FROM fills f GROUP BY 1")
    cash = {r["trade_journal_id"]: r["cash"] for r in fills}
    for jid in (ids["aapl"], ids["msft"]):
        assert D(closed[jid]["realised_pnl"]) == cash[jid]  # long: sells minus buys
    assert D(report["pnl"]["realised"]) == cash[ids["aapl"]] + cash[ids["msft"]]
    assert report["pnl"]["trades_closed"] == 2
    print(json.dumps(report, indent=1)[:3000])
