"""Between alpaca-py models and our value objects (the only place that knows their fields)."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from enum import Enum
from types import SimpleNamespace
from typing import Any

import pytz
from alpaca.trading.enums import OrderClass, OrderSide, TimeInForce
from alpaca.trading.models import Order
from alpaca.trading.requests import (
    LimitOrderRequest,
    MarketOrderRequest,
    StopLimitOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
)
from pydantic import TypeAdapter, ValidationError

from trading_monitor.broker.models import (
    BrokerAccount,
    BrokerAsset,
    BrokerOrder,
    BrokerPosition,
    FillActivity,
    MarketClock,
    MarketSnapshot,
    OrderRequest,
    TradeEvent,
)
from trading_monitor.exceptions import RejectedError

log = logging.getLogger(__name__)
_TIME: TypeAdapter[datetime] = TypeAdapter(datetime)
_ORDER_TIMES = ("submitted_at", "filled_at", "updated_at", "canceled_at", "expired_at",
                "expires_at")
_ORDER_FIELDS = ("id", "client_order_id", "symbol", "side", "qty", "order_type", "type",
                 "order_class", "time_in_force", "status", "filled_qty", "filled_avg_price",
                 "limit_price", "stop_price", "replaced_by", "replaces")
_NEW_YORK = pytz.timezone("America/New_York")
_ORDER_TYPES = {"market": MarketOrderRequest, "limit": LimitOrderRequest,
                "stop": StopOrderRequest, "stop_limit": StopLimitOrderRequest}


def dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value))


def text(value: Any) -> str:
    if isinstance(value, Enum):
        return str(value.value)
    return "" if value is None else str(value)


def order(o: Any) -> BrokerOrder:
    return BrokerOrder(
        id=str(o.id),
        client_order_id=str(o.client_order_id),
        symbol=str(o.symbol),
        side=text(o.side),
        qty=dec(o.qty) or Decimal(0),
        order_type=text(o.order_type or o.type),
        order_class=text(o.order_class) or "simple",
        time_in_force=text(o.time_in_force),
        status=text(o.status),
        filled_qty=dec(o.filled_qty) or Decimal(0),
        filled_avg_price=dec(o.filled_avg_price),
        limit_price=dec(o.limit_price),
        stop_price=dec(o.stop_price),
        submitted_at=o.submitted_at,
        filled_at=o.filled_at,
        updated_at=o.updated_at,
        replaced_by=str(o.replaced_by) if o.replaced_by else None,
        replaces=str(o.replaces) if o.replaces else None,
        legs=tuple(order(leg) for leg in (o.legs or [])),
        canceled_at=o.canceled_at,
        expired_at=o.expired_at,
        expires_at=getattr(o, "expires_at", None),
    )


def position(p: Any) -> BrokerPosition:
    qty = dec(p.qty) or Decimal(0)
    if text(p.side) == "short" and qty > 0:
        qty = -qty
    return BrokerPosition(
        symbol=str(p.symbol), qty=qty, avg_entry_price=dec(p.avg_entry_price) or Decimal(0),
        current_price=dec(p.current_price), market_value=dec(p.market_value),
        unrealized_pl=dec(p.unrealized_pl),
    )


def account(a: Any) -> BrokerAccount:
    return BrokerAccount(
        equity=dec(a.equity) or Decimal(0), last_equity=dec(a.last_equity) or Decimal(0),
        cash=dec(a.cash) or Decimal(0), buying_power=dec(a.buying_power) or Decimal(0),
        trading_blocked=bool(a.trading_blocked), account_blocked=bool(a.account_blocked),
        status=text(a.status),
    )


def clock(c: Any) -> MarketClock:
    return MarketClock(timestamp=c.timestamp, is_open=bool(c.is_open), next_open=c.next_open,
                       next_close=c.next_close)


def asset(a: Any) -> BrokerAsset:
    return BrokerAsset(symbol=str(a.symbol), tradable=bool(a.tradable), status=text(a.status),
                       shortable=bool(a.shortable))


def new_york(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        return moment
    return pytz.timezone("America/New_York").localize(moment)


def nested_request() -> Any:
    from alpaca.trading.requests import GetOrderByIdRequest

    return GetOrderByIdRequest(nested=True)


def as_float(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def to_alpaca_request(r: OrderRequest) -> Any:
    _check_exit_shape(r)
    kwargs: dict[str, Any] = {
        "symbol": r.symbol, "qty": float(r.qty), "side": OrderSide(r.side),
        "time_in_force": TimeInForce(r.time_in_force), "client_order_id": r.client_order_id,
        "order_class": OrderClass(r.order_class),
    }
    # An OCO's limit is its take_profit.limit_price (Alpaca's own OCO example sends no
    # top-level limit_price; alpaca-py 0.44 allows leaving it out for oco only).
    if r.limit_price is not None and r.order_class != "oco":
        kwargs["limit_price"] = float(r.limit_price)
    if r.stop_price is not None:
        kwargs["stop_price"] = float(r.stop_price)
    if r.take_profit_limit is not None:
        kwargs["take_profit"] = TakeProfitRequest(limit_price=float(r.take_profit_limit))
    if r.stop_loss_stop is not None:
        kwargs["stop_loss"] = StopLossRequest(stop_price=float(r.stop_loss_stop))
    return _ORDER_TYPES[r.order_type](**kwargs)


def _check_exit_shape(r: OrderRequest) -> None:
    """Protective orders that could never be accepted are refused here, as final (not as an
    unreadable answer that would be retried)."""
    problem = None
    if r.order_type == "stop" and r.stop_price is None:
        problem = "a stop order needs stop_price"
    elif r.order_class == "oco":
        if r.order_type != "limit":
            problem = "an OCO exit is a limit order (its take profit)"
        elif r.take_profit_limit is None or r.stop_loss_stop is None:
            problem = "an OCO exit needs take_profit_limit and stop_loss_stop"
        elif r.limit_price is not None and r.limit_price != r.take_profit_limit:
            problem = (f"an OCO's limit price is its take_profit_limit ({r.take_profit_limit}),"
                       f" not {r.limit_price}")
    if problem:
        raise RejectedError(f"{r.client_order_id}: {problem}")


def when(value: Any) -> datetime | None:
    """An ISO 8601 time as Alpaca writes it ("Z", 3 to 9 fraction digits), parsed by pydantic."""
    if value is None or value == "" or isinstance(value, datetime):
        return value or None
    return _TIME.validate_python(value)


def fill(row: dict[str, Any]) -> FillActivity:
    """A REST FILL activity: one execution (its qty), the order's cum_qty and leaves_qty."""
    at = when(row["transaction_time"])
    assert at is not None
    return FillActivity(
        id=str(row["id"]), order_id=str(row["order_id"]), symbol=str(row["symbol"]),
        side=str(row["side"]), qty=Decimal(str(row["qty"])), price=Decimal(str(row["price"])),
        transaction_time=at, cum_qty=dec(row.get("cum_qty")),
        leaves_qty=dec(row.get("leaves_qty")), kind=str(row.get("type") or "fill"),
    )


def trade_event(data: dict[str, Any]) -> TradeEvent:
    """A raw trade_updates `data` object. Amounts stay exact (alpaca-py's TradeUpdate reads
    them as floats) and the event name stays whatever Alpaca sent."""
    execution_id = data.get("execution_id")
    return TradeEvent(
        event=str(data.get("event") or ""), order=stream_order(data.get("order") or {}),
        execution_id=str(execution_id) if execution_id else None, price=dec(data.get("price")),
        qty=dec(data.get("qty")), position_qty=dec(data.get("position_qty")),
        at=when(data.get("timestamp")),
    )


def stream_order(raw: dict[str, Any]) -> BrokerOrder:
    """alpaca-py's Order model, as on REST; one it refuses (a status or type its strict enums
    lack) is read field by field instead, so the event is not lost."""
    try:
        return order(Order(**raw))
    except (ValidationError, TypeError, ValueError) as exc:
        log.warning("order %s in a trade update does not fit alpaca-py's Order (%s); "
                    "read as sent", raw.get("id"), type(exc).__name__)
        return order(_loose(raw))


def _loose(raw: dict[str, Any]) -> SimpleNamespace:
    fields = {name: raw.get(name) for name in _ORDER_FIELDS}
    fields.update((name, when(raw.get(name))) for name in _ORDER_TIMES)
    fields["legs"] = [_loose(leg) for leg in raw.get("legs") or []]
    return SimpleNamespace(**fields)


def snapshot(symbol: str, s: Any) -> MarketSnapshot:
    """alpaca-py's Snapshot (any part may be missing) as our MarketSnapshot."""
    trade, quote = s.latest_trade, s.latest_quote
    daily, previous = s.daily_bar, s.previous_daily_bar
    return MarketSnapshot(
        symbol=symbol,
        last_price=dec(trade.price) if trade else None,
        last_trade_at=trade.timestamp if trade else None,
        bid=dec(quote.bid_price) if quote else None,
        ask=dec(quote.ask_price) if quote else None,
        daily_volume=_volume(daily.volume) if daily else None,
        daily_bar_date=new_york(daily.timestamp).astimezone(_NEW_YORK).date() if daily else None,
        previous_volume=_volume(previous.volume) if previous else None,
    )


def _volume(value: Any) -> Decimal | None:
    # alpaca-py reads share volumes as floats; whole numbers are shown as such.
    number = dec(value)
    return number.quantize(Decimal(1)) if number is not None and number % 1 == 0 else number
