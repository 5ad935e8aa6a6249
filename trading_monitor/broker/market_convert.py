"""Alpaca's market-data JSON (latest trades, snapshots) as our values, read tolerantly.

Any part of a snapshot may be missing (a symbol that has not traded today has no daily bar);
a part that is there must carry the fields we need.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from trading_monitor.broker.reader import Body
from trading_monitor.domain.market import MarketSnapshot
from trading_monitor.domain.market_time import new_york_date

SNAPSHOTS = "GET /v2/stocks/snapshots"
LATEST_TRADES = "GET /v2/stocks/trades/latest"


def latest_prices(raw: Any, wanted: list[str]) -> dict[str, Decimal]:
    """{symbol: last trade price} for the symbols asked for that the answer has."""
    found = raw if isinstance(raw, dict) else {}
    return {s: Body(found[s], "latest_trade", LATEST_TRADES).need_dec("p")
            for s in wanted if isinstance(found.get(s), dict)}


def snapshots(raw: Any, wanted: list[str]) -> dict[str, MarketSnapshot]:
    found = raw if isinstance(raw, dict) else {}
    return {s: snapshot(s, found[s]) for s in wanted if isinstance(found.get(s), dict)}


def snapshot(symbol: str, raw: dict[str, Any]) -> MarketSnapshot:
    trade = _part(raw, "latestTrade", "latest_trade")
    quote = _part(raw, "latestQuote", "quote")
    daily = _part(raw, "dailyBar", "bar")
    previous = _part(raw, "prevDailyBar", "bar")
    daily_at = daily.need_time("t") if daily else None
    return MarketSnapshot(
        symbol=symbol,
        last_price=trade.need_dec("p") if trade else None,
        last_trade_at=trade.need_time("t") if trade else None,
        bid=quote.need_dec("bp") if quote else None,
        ask=quote.need_dec("ap") if quote else None,
        daily_volume=_volume(daily.need_dec("v")) if daily else None,
        daily_bar_date=new_york_date(daily_at) if daily_at else None,
        previous_volume=_volume(previous.need_dec("v")) if previous else None,
    )


def _part(raw: dict[str, Any], key: str, kind: str) -> Body | None:
    part = raw.get(key)
    return Body(part, kind, SNAPSHOTS) if isinstance(part, dict) else None


def _volume(number: Decimal) -> Decimal:
    # Share volumes are whole numbers; shown as such.
    return number.quantize(Decimal(1)) if number % 1 == 0 else number
