"""Snapshots as a liquidity guard reads them: quotes with a spread, daily volumes, daily bars."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
import requests
from alpaca.data.enums import DataFeed
from alpaca.data.requests import StockLatestQuoteRequest, StockSnapshotRequest

from tests.paper_exchange.conftest import KEY, SECRET
from trading_monitor.paper_exchange import ControlError


def snap(data_client, *symbols: str):  # type: ignore[no-untyped-def]
    return data_client.get_stock_snapshot(StockSnapshotRequest(
        symbol_or_symbols=list(symbols), feed=DataFeed.IEX))


def test_snapshot_of_several_symbols_parses_with_realistic_defaults(data_client, ctl):
    ctl.set_prices({"AAPL": Decimal("100"), "MSFT": Decimal("400")})
    ctl.reset_counters()
    snaps = snap(data_client, "AAPL", "MSFT", "NOPE")
    assert set(snaps) == {"AAPL", "MSFT"}
    assert ctl.counters() == {"GET /v2/stocks/snapshots": 1}  # one request for all
    aapl = snaps["AAPL"]
    assert aapl.latest_trade.price == 100
    assert aapl.latest_quote.bid_price == 99.99 and aapl.latest_quote.ask_price == 100.01
    assert aapl.daily_bar.volume >= 1_000_000 and aapl.previous_daily_bar.volume >= 1_000_000
    assert aapl.minute_bar.volume > 0
    # Friday 2026-11-20: the previous session is Thursday's, stamped at its NY midnight.
    assert aapl.daily_bar.timestamp == datetime(2026, 11, 20, 5, tzinfo=timezone.utc)
    assert aapl.previous_daily_bar.timestamp == datetime(2026, 11, 19, 5, tzinfo=timezone.utc)
    # A price set before time moves is the starting price, so yesterday closed there too.
    assert aapl.previous_daily_bar.close == 100 and aapl.daily_bar.open == 100


def test_set_quote_sets_the_spread_which_follows_later_prices(data_client, ctl):
    ctl.set_price("AAPL", Decimal("100"))
    answer = ctl.set_quote("AAPL", Decimal("99.50"), Decimal("100.50"))
    assert (answer["bp"], answer["ap"]) == (99.5, 100.5)
    quote = snap(data_client, "AAPL")["AAPL"].latest_quote
    assert (quote.bid_price, quote.ask_price) == (99.5, 100.5)
    ctl.set_price("AAPL", Decimal("110"))
    latest = data_client.get_stock_latest_quote(StockLatestQuoteRequest(
        symbol_or_symbols="AAPL"))["AAPL"]
    assert (latest.bid_price, latest.ask_price) == (109.5, 110.5)
    ctl.set_quote("AAPL", None, None)
    quote = snap(data_client, "AAPL")["AAPL"].latest_quote
    assert (quote.bid_price, quote.ask_price) == (109.99, 110.01)


def test_set_volume(data_client, ctl):
    assert ctl.set_volume("AAPL", daily=1234, previous=5678) == {
        "symbol": "AAPL", "daily": 1234, "previous": 5678}
    ctl.set_volume("AAPL", daily=99)  # previous unchanged
    aapl = snap(data_client, "AAPL")["AAPL"]
    assert (aapl.daily_bar.volume, aapl.previous_daily_bar.volume) == (99, 5678)


def test_daily_bars_follow_sessions(data_client, ctl):
    ctl.set_price("AAPL", Decimal("100"))
    ctl.advance(60)
    ctl.set_price("AAPL", Decimal("102"))
    ctl.set_price("AAPL", Decimal("101"))
    friday = snap(data_client, "AAPL")["AAPL"].daily_bar
    assert (friday.open, friday.high, friday.low, friday.close) == (100, 102, 100, 101)
    ctl.set_clock(datetime(2026, 11, 21, 17, tzinfo=timezone.utc))  # Saturday
    weekend = snap(data_client, "AAPL")["AAPL"]
    assert weekend.daily_bar.timestamp.date() == date(2026, 11, 20)
    assert weekend.previous_daily_bar.timestamp.date() == date(2026, 11, 19)
    ctl.set_clock(datetime(2026, 11, 23, 15, tzinfo=timezone.utc))  # Monday 10:00 NY
    ctl.set_price("AAPL", Decimal("105"))
    monday = snap(data_client, "AAPL")["AAPL"]
    assert monday.daily_bar.timestamp.date() == date(2026, 11, 23)
    assert monday.daily_bar.close == 105
    prev = monday.previous_daily_bar
    assert prev.timestamp.date() == date(2026, 11, 20) and (prev.high, prev.close) == (102, 101)


def test_bars_without_timeframe_are_refused(exchange):
    headers = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
    resp = requests.get(exchange.url + "/v2/stocks/bars?symbols=AAPL", headers=headers,
                        timeout=5)
    assert resp.status_code == 422
    assert resp.json() == {"code": 42210000, "message": "timeframe is required"}


@pytest.mark.parametrize(
    ("call", "args"),
    [("set_quote", ("NOPE", "1", "2")), ("set_quote", ("AAPL", "2", "1")),
     ("set_quote", ("AAPL", "0", "1")), ("set_quote", ("AAPL", "1", None)),
     ("set_volume", ("AAPL", -1, None)), ("set_volume", ("NOPE", 1, 1))],
)
def test_bad_quote_and_volume_controls_are_422(ctl, call, args):
    with pytest.raises(ControlError) as err:
        getattr(ctl, call)(*args)
    assert err.value.status == 422
