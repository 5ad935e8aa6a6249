"""Alpaca's raw JSON as our value objects: the only place that knows Alpaca's field names.

alpaca-py's response models are strict (a removed field or a new enum value fails the whole
response), so every body is taken raw and read here through `reader.Body`: unknown fields
are ignored, optional ones default, and a needed one that is missing names its endpoint.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from trading_monitor.broker import known
from trading_monitor.broker.models import (
    BrokerAccount,
    BrokerAsset,
    BrokerOrder,
    BrokerPosition,
    CalendarDay,
    FillActivity,
    MarketClock,
    TradeEvent,
)
from trading_monitor.broker.reader import Body, when
from trading_monitor.domain.market_time import NEW_YORK, new_york_time
from trading_monitor.exceptions import BrokerContractError

__all__ = ["account", "asset", "calendar_day", "clock", "fill", "new_york", "order",
           "position", "trade_event", "when"]

log = logging.getLogger(__name__)


def order(raw: Any, endpoint: str) -> BrokerOrder:
    b = Body(raw, "order", endpoint)
    return BrokerOrder(
        id=b.need_text("id"),
        client_order_id=b.need_text("client_order_id"),
        symbol=b.need_text("symbol"),
        side=b.need_text("side"),
        qty=b.dec("qty") or Decimal(0),
        order_type=b.need_text("type"),
        order_class=b.text("order_class") or "simple",
        time_in_force=b.text("time_in_force"),
        status=b.need_text("status"),
        filled_qty=b.dec("filled_qty") or Decimal(0),
        filled_avg_price=b.dec("filled_avg_price"),
        limit_price=b.dec("limit_price"),
        stop_price=b.dec("stop_price"),
        submitted_at=b.time("submitted_at"),
        filled_at=b.time("filled_at"),
        updated_at=b.time("updated_at"),
        replaced_by=b.text("replaced_by") or None,
        replaces=b.text("replaces") or None,
        legs=tuple(order(leg, endpoint) for leg in b.list("legs")),
        canceled_at=b.time("canceled_at"),
        expired_at=b.time("expired_at"),
        expires_at=b.time("expires_at"),
    )


def position(raw: Any, endpoint: str) -> BrokerPosition:
    b = Body(raw, "position", endpoint)
    qty = b.need_dec("qty")
    if b.need_text("side") == "short" and qty > 0:
        qty = -qty
    return BrokerPosition(
        symbol=b.need_text("symbol"), qty=qty,
        avg_entry_price=b.dec("avg_entry_price") or Decimal(0),
        current_price=b.dec("current_price"), market_value=b.dec("market_value"),
        unrealized_pl=b.dec("unrealized_pl"), asset_class=b.need_text("asset_class"),
    )


def account(raw: Any, endpoint: str) -> BrokerAccount:
    b = Body(raw, "account", endpoint)
    return BrokerAccount(
        equity=b.need_dec("equity"), last_equity=b.need_dec("last_equity"),
        cash=b.need_dec("cash"), buying_power=b.need_dec("buying_power"),
        trading_blocked=b.flag("trading_blocked"), account_blocked=b.flag("account_blocked"),
        status=b.need_text("status"), account_id=b.need_text("id"),
        long_market_value=b.dec("long_market_value"),
        short_market_value=b.dec("short_market_value"),
    )


def clock(raw: Any, endpoint: str) -> MarketClock:
    b = Body(raw, "clock", endpoint)
    return MarketClock(timestamp=b.need_time("timestamp"), is_open=b.flag("is_open"),
                       next_open=b.need_time("next_open"), next_close=b.need_time("next_close"))


def calendar_day(raw: Any, endpoint: str) -> CalendarDay:
    """Alpaca writes a session as a date and New York wall times ("09:30")."""
    b = Body(raw, "calendar", endpoint)
    day = b.need_text("date")
    try:
        at = datetime.fromisoformat(day)
        opens = new_york_time(at.date(), _clock_time(b, "open"))
        closes = new_york_time(at.date(), _clock_time(b, "close"))
    except ValueError:
        raise BrokerContractError(endpoint, "calendar.date", f"is not a date ({day!r})") from None
    return CalendarDay(date=at.date(), open=opens, close=closes)


def _clock_time(b: Body, name: str) -> Any:
    text = b.need_text(name)
    try:
        return datetime.strptime(text[:5], "%H:%M").time()
    except ValueError:
        raise BrokerContractError(b.endpoint, f"calendar.{name}",
                                  f"is not a wall time ({text!r})") from None


def asset(raw: Any, endpoint: str) -> BrokerAsset:
    b = Body(raw, "asset", endpoint)
    easy = b.get("easy_to_borrow")
    return BrokerAsset(symbol=b.need_text("symbol"), tradable=b.flag("tradable"),
                       status=b.need_text("status"), shortable=b.flag("shortable"),
                       asset_class=b.need_text("class"),
                       borrow_status=b.text("borrow_status") or None,
                       easy_to_borrow=None if easy is None else bool(easy))


def fill(raw: Any, endpoint: str = "GET /v2/account/activities/FILL") -> FillActivity:
    """A REST FILL activity: one execution (its qty), the order's cum_qty and leaves_qty."""
    b = Body(raw, "fill_activity", endpoint)
    return FillActivity(
        id=b.need_text("id"), order_id=b.need_text("order_id"), symbol=b.need_text("symbol"),
        side=b.need_text("side"), qty=b.need_dec("qty"), price=b.need_dec("price"),
        transaction_time=b.need_time("transaction_time"), cum_qty=b.dec("cum_qty"),
        leaves_qty=b.dec("leaves_qty"), kind=b.text("type") or "fill",
    )


def is_fill(raw: Any, endpoint: str) -> bool:
    """A FILL activity; any other type (a new one included) is skipped, logged once."""
    kind = Body(raw, "activity", endpoint).need_text("activity_type")
    return kind == "FILL"


def trade_event(data: Any, endpoint: str = "stream trade_updates") -> TradeEvent:
    """A raw trade_updates `data` object. Amounts stay exact and the event name stays
    whatever Alpaca sent (a name we do not know is logged once)."""
    b = Body(data, "trade_update", endpoint)
    return TradeEvent(
        event=b.need_text("event"), order=order(b.need("order"), endpoint),
        execution_id=b.text("execution_id") or None, price=b.dec("price"),
        qty=b.dec("qty"), position_qty=b.dec("position_qty"), at=b.time("timestamp"),
    )


def new_york(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=NEW_YORK)


def asset_class_known(value: str) -> bool:
    return value in known.ASSET_CLASS
