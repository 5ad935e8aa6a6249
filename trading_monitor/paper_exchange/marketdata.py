"""Market-data v2 shapes (latest trades/quotes, snapshots, bars) built from the price history."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from trading_monitor.paper_exchange.clock import NY, latest_session, previous_session
from trading_monitor.paper_exchange.market import Market
from trading_monitor.paper_exchange.wire import ts

UNITS = {"Min": 60, "T": 60, "Hour": 3600, "H": 3600, "Day": 86400, "D": 86400}


def parse_timeframe(text: str) -> timedelta:
    for unit, seconds in UNITS.items():
        if text.endswith(unit):
            amount = text[: -len(unit)] or "1"
            if amount.isdigit() and int(amount) > 0:
                return timedelta(seconds=int(amount) * seconds)
    raise ValueError(f"invalid timeframe: {text}")


def trade(market: Market, symbol: str, now: datetime) -> dict[str, Any]:
    at, price = _last(market, symbol, now)
    return {"t": ts(at), "x": "V", "p": float(price), "s": 100, "c": ["@"],
            "i": _trade_id(market, symbol), "z": "C"}


def _trade_id(market: Market, symbol: str) -> int:
    return len(market.history.get(symbol, []))


def quote(market: Market, symbol: str, now: datetime) -> dict[str, Any]:
    at, _ = _last(market, symbol, now)
    bid, ask, quoted_at = market.quote(symbol)
    if quoted_at is not None:
        at = max(at, quoted_at)
    return {"t": ts(at), "ax": "V", "ap": float(ask), "as": 2, "bx": "V", "bp": float(bid),
            "bs": 3, "c": ["R"], "z": "C"}


def _last(market: Market, symbol: str, now: datetime) -> tuple[datetime, Decimal]:
    history = market.history.get(symbol) or [(now, market.price(symbol))]
    return history[-1]


def bars(market: Market, symbol: str, step: timedelta, start: datetime | None,
         end: datetime | None) -> list[dict[str, Any]]:
    """OHLC buckets over the recorded ticks; empty buckets are skipped, as Alpaca does."""
    out: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for at, price in market.history.get(symbol, []):
        if (start is not None and at < start) or (end is not None and at > end):
            continue
        bucket = _bucket(at, step)
        p = float(price)
        if current is None or current["_b"] != bucket:
            current = {"_b": bucket, "t": ts(bucket), "o": p, "h": p, "l": p, "c": p,
                       "v": 0, "n": 0, "vw": p}
            out.append(current)
        current["h"], current["l"], current["c"] = max(current["h"], p), min(current["l"], p), p
        current["v"] += 100
        current["n"] += 1
        current["vw"] = round((current["vw"] * (current["n"] - 1) + p) / current["n"], 4)
    for bar in out:
        del bar["_b"]
    return out


def _bucket(at: datetime, step: timedelta) -> datetime:
    if step >= timedelta(days=1):
        local = at.astimezone(NY)
        # Daily bars are stamped at midnight New York time, like Alpaca's.
        return local.replace(hour=0, minute=0, second=0, microsecond=0)
    seconds = int(step.total_seconds())
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=at.tzinfo)


def snapshot(market: Market, symbol: str, now: datetime) -> dict[str, Any]:
    """latestTrade, latestQuote, minuteBar, and the daily bars of the latest two sessions."""
    today = latest_session(now).day
    daily_volume, previous_volume = market.volume(symbol)
    minute = bars(market, symbol, timedelta(minutes=1), None, now)
    price = float(market.price(symbol))
    per_minute = daily_volume // 390  # an average minute of the session
    minute_bar = dict(minute[-1]) if minute else {"t": ts(now), "o": price, "h": price,
                                                  "l": price, "c": price, "vw": price}
    minute_bar.update(v=per_minute, n=per_minute // 100)
    return {
        "latestTrade": trade(market, symbol, now),
        "latestQuote": quote(market, symbol, now),
        "minuteBar": minute_bar,
        "dailyBar": daily_bar(market, symbol, today, daily_volume, now),
        "prevDailyBar": daily_bar(market, symbol, previous_session(today).day,
                                  previous_volume, now),
    }


def daily_bar(market: Market, symbol: str, day: date, volume: int,
              now: datetime) -> dict[str, Any]:
    """The bar of one session (stamped at its midnight, New York), from the recorded prices.

    A session without recorded prices (before the exchange started) traded flat at the price
    it had then: the earliest known one.
    """
    history = [(at, p) for at, p in market.history.get(symbol, []) if at <= now] or [
        (now, market.price(symbol))]
    ticks = [float(p) for at, p in history if at.astimezone(NY).date() == day]
    if not ticks:
        before = [p for at, p in history if at.astimezone(NY).date() < day]
        ticks = [float(before[-1] if before else history[0][1])]
    midnight = datetime(day.year, day.month, day.day, tzinfo=NY)
    return {"t": ts(midnight), "o": ticks[0], "h": max(ticks), "l": min(ticks), "c": ticks[-1],
            "v": volume, "n": volume // 100, "vw": round(sum(ticks) / len(ticks), 4)}
