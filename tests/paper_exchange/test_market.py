"""Clock, calendar, assets, market data, scenario files, determinism and the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from alpaca.common.exceptions import APIError
from alpaca.data.requests import (
    StockBarsRequest,
    StockLatestBarRequest,
    StockLatestQuoteRequest,
    StockLatestTradeRequest,
    StockSnapshotRequest,
)
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.requests import (
    GetCalendarRequest,
    MarketOrderRequest,
    StopOrderRequest,
)

from tests.paper_exchange.conftest import KEY, OPEN_MOMENT, SECRET
from trading_monitor.paper_exchange import ExchangeControl, PaperExchange, clock


def test_clock_endpoint(client, ctl):
    now = client.get_clock()
    assert now.is_open and now.next_close.hour == 16 and now.next_open.date() == date(2026, 11,
                                                                                         23)
    ctl.advance(7 * 3600)
    assert not client.get_clock().is_open


def test_calendar_holidays_and_half_days(client):
    days = client.get_calendar(GetCalendarRequest(start=date(2026, 11, 23),
                                                  end=date(2026, 11, 30)))
    by_date = {d.date: d for d in days}
    assert date(2026, 11, 26) not in by_date  # Thanksgiving
    assert by_date[date(2026, 11, 27)].close.strftime("%H:%M") == "13:00"
    assert by_date[date(2026, 11, 23)].open.strftime("%H:%M") == "09:30"
    assert date(2026, 11, 28) not in by_date  # Saturday
    raw = client.get("/calendar", {"start": "2027-12-23", "end": "2027-12-24"})
    assert raw == [{"date": "2027-12-23", "open": "09:30", "close": "16:00",
                    "session_open": "0400", "session_close": "2000",
                    "settlement_date": "2027-12-23"}]


def test_calendar_table_matches_nyse_counts():
    for year in (2025, 2026, 2027):
        sessions = clock.sessions_between(date(year, 1, 1), date(year, 12, 31))
        # NYSE trades 250-252 days a year.
        assert 249 <= len(sessions) <= 252, year
    assert clock.is_open(datetime(2026, 11, 27, 17, 59, tzinfo=timezone.utc))
    assert not clock.is_open(datetime(2026, 11, 27, 18, 0, tzinfo=timezone.utc))


def test_half_day_expiry_at_13_00(client, ctl):
    ctl.set_clock(datetime(2026, 11, 27, 15, 0, tzinfo=timezone.utc))  # 10:00 NY, half day
    order = client.submit_order(StopOrderRequest(symbol="AAPL", qty=1, side="buy",
                                                 time_in_force="day", stop_price=10000))
    assert order.expires_at == datetime(2026, 11, 27, 18, 0, tzinfo=timezone.utc)
    ctl.advance(3 * 3600)
    assert client.get_order_by_id(order.id).status == "expired"


def test_assets(raw_client):
    # Today's asset body has no easy_to_borrow, which alpaca-py 0.44's Asset requires: raw.
    assets = raw_client.get("/assets", {"status": "active"})
    symbols = {a["symbol"] for a in assets}
    assert {"AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "SPY", "QQQ", "IWM",
            "JPM", "AMD", "HALT"} <= symbols
    assert raw_client.get("/assets/HALT")["tradable"] is False
    assert raw_client.get(f"/assets/{raw_client.get('/assets/SPY')['id']}")["symbol"] == "SPY"
    raw = raw_client.get("/assets/AAPL")
    assert raw["class"] == "us_equity"
    with pytest.raises(APIError) as err:
        raw_client.get("/assets/NOPE")
    assert err.value.status_code == 404


def test_market_data_latest_many_symbols_in_one_request(data_client, ctl):
    ctl.set_prices({"AAPL": Decimal("100"), "MSFT": Decimal("400")})
    ctl.reset_counters()
    trades = data_client.get_stock_latest_trade(StockLatestTradeRequest(
        symbol_or_symbols=["AAPL", "MSFT", "NOPE"]))
    assert {s: t.price for s, t in trades.items()} == {"AAPL": 100, "MSFT": 400}
    quotes = data_client.get_stock_latest_quote(StockLatestQuoteRequest(
        symbol_or_symbols=["AAPL", "MSFT"]))
    assert quotes["AAPL"].bid_price < 100 < quotes["AAPL"].ask_price
    assert ctl.counters() == {"GET /v2/stocks/trades/latest": 1,
                              "GET /v2/stocks/quotes/latest": 1}
    bars = data_client.get_stock_latest_bar(StockLatestBarRequest(symbol_or_symbols="AAPL"))
    assert bars["AAPL"].close == 100
    snap = data_client.get_stock_snapshot(StockSnapshotRequest(symbol_or_symbols=["AAPL"]))
    assert snap["AAPL"].latest_trade.price == 100


def test_random_walk_bars_and_determinism():
    def run() -> list[float]:
        with PaperExchange(seed=3, start=OPEN_MOMENT).start() as ex:
            ex.control.advance(30 * 60)
            from alpaca.data.historical import StockHistoricalDataClient

            data = StockHistoricalDataClient(KEY, SECRET, url_override=ex.url)
            barset = data.get_stock_bars(StockBarsRequest(
                symbol_or_symbols=["NVDA", "SPY"], timeframe=TimeFrame.Minute,
                start=OPEN_MOMENT))
            closes = [b.close for b in barset["NVDA"]]
            assert len(closes) == 31 and len(barset["SPY"]) == 31
            order = TradingClient(KEY, SECRET, url_override=ex.url).submit_order(
                StopOrderRequest(symbol="NVDA", qty=1, side="buy", time_in_force="gtc",
                                 stop_price=1000))
            return closes + [str(order.id)]

    first, second = run(), run()
    assert first == second
    assert len(set(first[:-1])) > 5  # it does walk


def test_scenario_file_drives_stop_fill(tmp_path):
    scenario = tmp_path / "gap.json"
    scenario.write_text(json.dumps([
        {"at": "2026-11-20T09:35:00-05:00", "symbol": "AAPL", "price": "100"},
        {"at": "2026-11-20T10:05:00-05:00", "symbol": "AAPL", "price": "94.50"},
    ]))
    with PaperExchange(seed=1, start=OPEN_MOMENT, scenario=scenario).start() as ex:
        client = TradingClient(KEY, SECRET, url_override=ex.url)
        client.submit_order(MarketOrderRequest(symbol="AAPL", qty=5, side="buy",
                                               time_in_force="day"))
        stop = client.submit_order(StopOrderRequest(symbol="AAPL", qty=5, side="sell",
                                                    time_in_force="gtc", stop_price=98))
        ex.control.advance(29 * 60)
        assert client.get_order_by_id(stop.id).status == "new"
        ex.control.advance(60)
        filled = client.get_order_by_id(stop.id)
        assert filled.status == "filled" and filled.filled_avg_price == "94.5"


def test_csv_scenario(tmp_path):
    scenario = tmp_path / "prices.csv"
    scenario.write_text("at,symbol,price\n2026-11-20T09:40:00-05:00,MSFT,410.25\n"
                        "2026-11-20T09:36:00-05:00,MSFT,405\n")
    with PaperExchange(start=OPEN_MOMENT, scenario=scenario).start() as ex:
        assert ex.control.state()["prices"]["MSFT"] == "405"
        ex.control.advance(300)
        assert ex.control.state()["prices"]["MSFT"] == "410.25"


def test_realtime_clock_moves(tmp_path):
    start = datetime.now(timezone.utc) - timedelta(days=1)
    with PaperExchange(start=start, clock_mode="accelerated", speed=3600).start() as ex:
        client = TradingClient(KEY, SECRET, url_override=ex.url)
        first = client.get_clock().timestamp
        time.sleep(0.2)
        assert client.get_clock().timestamp - first >= timedelta(minutes=10)


def test_cli_serves_until_sigterm():
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "trading_monitor.paper_exchange", "--port", "0", "--seed", "2",
         "--start", "2026-11-20T09:35:00-05:00", "--speed", "60"],
        stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        second = proc.stdout.readline().strip()
        url = first.rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:") and second.endswith("/stream")
        assert TradingClient(KEY, SECRET, url_override=url).get_clock().is_open
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


def test_cli_stepped_clock_stands_still_in_another_process():
    proc = subprocess.Popen(
        [sys.executable, "-m", "trading_monitor.paper_exchange", "--port", "0", "--clock",
         "stepped", "--start", "2026-11-20T09:35:00-05:00"],
        stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip().rsplit(" ", 1)[-1]
        proc.stdout.readline()
        ctl = ExchangeControl(url)
        client = TradingClient(KEY, SECRET, url_override=url)
        ctl.set_partial_fill(symbol="AAPL", ratio="0.5")
        order = client.submit_order(MarketOrderRequest(symbol="AAPL", qty=10, side="buy",
                                                       time_in_force="day"))
        price = ctl.state()["prices"]["AAPL"]
        time.sleep(0.3)  # the exchange's own ticker would have moved things by now
        # Requests do not move time either, nor complete the partial fill.
        client.submit_order(MarketOrderRequest(symbol="MSFT", qty=1, side="buy",
                                               time_in_force="day"))
        assert client.get_clock().timestamp == OPEN_MOMENT
        assert client.get_order_by_id(order.id).status == "partially_filled"
        assert ctl.state()["prices"]["AAPL"] == price  # no random-walk step either
        ctl.advance(60)
        assert client.get_order_by_id(order.id).status == "filled"
        assert client.get_clock().timestamp == OPEN_MOMENT + timedelta(seconds=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


@pytest.mark.parametrize("argv", [["--speed", "0"], ["--start", "2026-11-20T09:35:00"],
                                  ["--clock", "stepped", "--speed", "10"],
                                  ["--clock", "accelerated"], ["--clock", "weird"]])
def test_cli_rejects_bad_arguments(argv, capsys):
    from trading_monitor.paper_exchange.__main__ import main

    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse refuses an unknown --clock itself
        code = int(exit_.code or 0)
    assert code == 2
    assert capsys.readouterr().err


def test_accelerated_clock_expires_day_orders_on_its_own():
    from tests.paper_exchange.conftest import StreamRecorder, wait_until

    # 3 simulated minutes are 3 s at 60x: enough for the stream to connect under load before
    # the close (5 s were 83 ms; a DAY order sent after the close waits for the next session).
    just_before_close = datetime(2026, 11, 20, 20, 57, tzinfo=timezone.utc)
    with PaperExchange(start=just_before_close, clock_mode="accelerated", speed=60,
                       random_walk=False).start() as ex:
        recorder = StreamRecorder(ex.stream_url).start(ex)
        try:
            client = TradingClient(KEY, SECRET, url_override=ex.url)
            client.submit_order(StopOrderRequest(symbol="AAPL", qty=1, side="buy",
                                                 time_in_force="day", stop_price=10000))
            # No request moves the clock from here on: the exchange's own tick must.
            wait_until(lambda: [u.event for u in recorder.updates] == ["new", "expired"],
                       timeout=15, what="the expiry at the close")
        finally:
            recorder.stop()
