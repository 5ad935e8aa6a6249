"""alpaca-py models to our value objects (the only place that knows their field names)."""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Any

from trading_monitor.broker.models import (
    BrokerAccount,
    BrokerAsset,
    BrokerOrder,
    BrokerPosition,
    MarketClock,
)


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
