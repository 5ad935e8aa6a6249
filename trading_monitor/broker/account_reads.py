"""AlpacaBroker's reads of the account, positions, calendar, assets and market data.

A mixin, so alpaca.py stays one screenful; it uses the broker's `_read` (timeouts, the
request budget, retries), `_parse` (contract errors alerted) and its two alpaca-py clients,
both made with raw_data=True so every answer is read by broker/convert.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any, Protocol, TypeVar

from alpaca.data.enums import DataFeed
from alpaca.data.requests import StockLatestTradeRequest, StockSnapshotRequest
from alpaca.trading.requests import GetCalendarRequest

from trading_monitor.broker import convert, market_convert
from trading_monitor.broker.models import (
    BrokerAccount,
    BrokerAsset,
    BrokerPosition,
    CalendarDay,
    MarketClock,
    MarketSnapshot,
)
from trading_monitor.broker.reader import rows

T = TypeVar("T")


class _Reads(Protocol):
    _trading: Any
    _data: Any

    def _read(self, fn: Callable[[], T], *, order_request: bool = False) -> T: ...

    def _read_or_none(self, fn: Callable[[], T]) -> T | None: ...

    def _parse(self, endpoint: str, parse: Callable[[], T]) -> T: ...


class AccountReadsMixin:
    def get_positions(self: _Reads, *, include_unmanaged: bool = False) -> list[BrokerPosition]:
        """The account's positions. Only US equities unless `include_unmanaged`: a position
        of any other class (one Alpaca added after us included) is never traded, adopted,
        protected or flattened; reconciliation asks for it only to report it."""
        endpoint = "GET /v2/positions"
        page = self._read(self._trading.get_all_positions)
        found = self._parse(endpoint, lambda: [convert.position(p, endpoint)
                                               for p in rows(page, endpoint)])
        return found if include_unmanaged else [p for p in found if p.managed]

    def get_account(self: _Reads) -> BrokerAccount:
        raw = self._read(self._trading.get_account)
        return self._parse("GET /v2/account", lambda: convert.account(raw, "GET /v2/account"))

    def get_clock(self: _Reads) -> MarketClock:
        raw = self._read(self._trading.get_clock)
        return self._parse("GET /v2/clock", lambda: convert.clock(raw, "GET /v2/clock"))

    def get_calendar(self: _Reads, start: date, end: date) -> list[CalendarDay]:
        endpoint = "GET /v2/calendar"
        page = self._read(lambda: self._trading.get_calendar(GetCalendarRequest(start=start,
                                                                                end=end)))
        return self._parse(endpoint, lambda: [convert.calendar_day(d, endpoint)
                                              for d in rows(page, endpoint)])

    def get_asset(self: _Reads, symbol: str) -> BrokerAsset | None:
        endpoint = "GET /v2/assets/{symbol}"
        found = self._read_or_none(lambda: self._trading.get_asset(symbol))
        return None if found is None else self._parse(endpoint,
                                                      lambda: convert.asset(found, endpoint))

    def latest_prices(self: _Reads, symbols: Iterable[str]) -> dict[str, Decimal]:
        wanted = sorted(set(symbols))
        if not wanted:
            return {}
        trades = self._read(lambda: self._data.get_stock_latest_trade(
            StockLatestTradeRequest(symbol_or_symbols=wanted)))
        return self._parse(market_convert.LATEST_TRADES,
                           lambda: market_convert.latest_prices(trades, wanted))

    def market_snapshots(self: _Reads, symbols: Iterable[str], feed: str = "iex"
                         ) -> dict[str, MarketSnapshot]:
        """Last trade, quote and daily bars of every symbol in one request per 100."""
        wanted = sorted(set(symbols))
        found: dict[str, MarketSnapshot] = {}
        for start in range(0, len(wanted), 100):
            chunk = wanted[start:start + 100]
            request = StockSnapshotRequest(symbol_or_symbols=chunk, feed=DataFeed(feed))
            raw: Any = self._read(partial(self._data.get_stock_snapshot, request))
            found.update(self._parse(market_convert.SNAPSHOTS,
                                     partial(market_convert.snapshots, raw, chunk)))
        return found
