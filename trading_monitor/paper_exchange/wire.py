"""JSON shapes exactly as Alpaca sends them (strings where Alpaca sends strings)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from trading_monitor.paper_exchange import clock, drift
from trading_monitor.paper_exchange.account import Position, Totals
from trading_monitor.paper_exchange.assets import Asset
from trading_monitor.paper_exchange.orders import Order

if TYPE_CHECKING:
    from trading_monitor.paper_exchange.events import Activity, Event

CENT = Decimal("0.01")


def num(value: Decimal | None) -> str | None:
    if value is None:
        return None
    return _num(value)


# Order lists re-serialize the same few timestamps and prices over and over; formatting
# dominated GET /v2/orders before these caches.
@lru_cache(maxsize=8192)
def _num(value: Decimal) -> str:
    return format(value.normalize(), "f")


def money(value: Decimal) -> str:
    return format(value.quantize(CENT).normalize(), "f")


def ts(at: datetime | None) -> str | None:
    if at is None:
        return None
    return _ts(at)


@lru_cache(maxsize=8192)
def _ts(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ny(at: datetime) -> str:
    return at.astimezone(clock.NY).isoformat()


def order(o: Order, legs: list[Order] | None) -> dict[str, Any]:
    return {
        "id": o.id,
        "client_order_id": o.client_order_id,
        "created_at": ts(o.created_at),
        "updated_at": ts(o.updated_at),
        "submitted_at": ts(o.created_at),
        "filled_at": ts(o.filled_at),
        "expired_at": ts(o.expired_at),
        "expires_at": ts(o.expires_at),
        "canceled_at": ts(o.canceled_at),
        "failed_at": ts(o.failed_at),
        "replaced_at": ts(o.replaced_at),
        "replaced_by": o.replaced_by,
        "replaces": o.replaces,
        "asset_id": o.asset_id,
        "symbol": o.symbol,
        "asset_class": "us_equity",
        "notional": num(o.notional),
        "qty": None if o.notional is not None and o.filled_qty == 0 else num(o.qty),
        "filled_qty": num(o.filled_qty),
        "filled_avg_price": num(o.filled_avg_price),
        "order_class": o.order_class,
        "order_type": o.type,
        "type": o.type,
        "side": o.side,
        "position_intent": o.position_intent,
        "time_in_force": o.time_in_force,
        "limit_price": num(o.limit_price),
        "stop_price": num(o.stop_price),
        "status": o.status,
        "extended_hours": o.extended_hours,
        "legs": None if legs is None else [order(leg, None) for leg in legs],
        "trail_percent": num(o.trail_percent),
        "trail_price": num(o.trail_price),
        "hwm": num(o.hwm),
        "subtag": None,
        "source": None,
        **_group(o),
    }


# group_id is opaque at Alpaca; a name-based uuid keeps it stable across runs and seeds.
_GROUP_NAMESPACE = uuid.UUID("0c5f3a52-8e1d-4b7a-a3c9-2f6e4d1b7a90")


def _group(o: Order) -> dict[str, str]:
    """group_id/group_role (Alpaca, 2026-10-08): only on bracket, oto and oco orders.

    The group is named after its top-level order, so replacing a leg keeps it; replacing
    the top-level order changes it (Alpaca keeps it: the Order has no field for it yet).
    """
    if o.order_class not in ("bracket", "oto", "oco"):
        return {}
    role = o.leg_role or ("take_profit" if o.order_class == "oco" else "entry")
    return {"group_id": str(uuid.uuid5(_GROUP_NAMESPACE, o.parent_id or o.id)),
            "group_role": role}


def trade_update(e: Event) -> dict[str, Any]:
    data: dict[str, Any] = {"event": e.event, "timestamp": ts(e.at), "order": order(e.order, None)}
    if e.execution_id is not None:
        data.update(execution_id=e.execution_id, price=num(e.price), qty=num(e.qty),
                    position_qty=num(e.position_qty))
    # The drift switch reshapes stream frames here, where they are serialized.
    return drift.stream_frame({"stream": "trade_updates", "data": data})


def position(p: Position, asset: Asset, price: Decimal, lastday: Decimal,
             available: Decimal) -> dict[str, Any]:
    market_value = p.qty * price
    cost_basis = p.qty * p.avg_entry_price
    pl = market_value - cost_basis
    intraday = p.qty * (price - lastday)
    return {
        "asset_id": asset.id,
        "symbol": p.symbol,
        "exchange": asset.exchange,
        "asset_class": "us_equity",
        "asset_marginable": True,
        "qty": num(p.qty),
        "qty_available": num(available),
        "avg_entry_price": num(p.avg_entry_price.quantize(Decimal("0.0001"))),
        "side": "long" if p.qty > 0 else "short",
        "market_value": money(market_value),
        "cost_basis": money(cost_basis),
        "unrealized_pl": money(pl),
        "unrealized_plpc": num((pl / abs(cost_basis)).quantize(Decimal("0.0000001"))),
        "unrealized_intraday_pl": money(intraday),
        "unrealized_intraday_plpc": num(
            (intraday / abs(p.qty * lastday)).quantize(Decimal("0.0000001"))),
        "current_price": num(price),
        "lastday_price": num(lastday),
        "change_today": num(((price - lastday) / lastday).quantize(Decimal("0.0000001"))),
    }


def account(account_id: str, t: Totals, last_equity: Decimal, created: datetime,
            today: date) -> dict[str, Any]:
    """The Account schema of today's spec: no pattern-day-trader or DTBP fields (removed on
    2026-07-06), none of the fields the spec does not list."""
    bp = money(t.buying_power)
    return {
        "id": account_id,
        "account_number": "PA" + account_id.replace("-", "")[:10].upper(),
        "status": "ACTIVE",
        "crypto_status": "INACTIVE",
        "currency": "USD",
        "buying_power": bp,
        "regt_buying_power": bp,
        "non_marginable_buying_power": bp,
        "options_buying_power": bp,
        "cash": money(t.cash),
        "accrued_fees": "0",
        "pending_transfer_in": "0",
        "pending_transfer_out": "0",
        "portfolio_value": money(t.equity),
        "trading_blocked": False,
        "transfers_blocked": False,
        "account_blocked": False,
        "created_at": ts(created),
        "trade_suspended_by_user": False,
        "multiplier": "1",
        "shorting_enabled": True,
        "equity": money(t.equity),
        "last_equity": money(last_equity),
        "long_market_value": money(t.long_market_value),
        "short_market_value": money(t.short_market_value),
        "initial_margin": money(t.long_market_value - t.short_market_value),
        "maintenance_margin": money((t.long_market_value - t.short_market_value) * 3 / 10),
        "last_maintenance_margin": "0",
        "sma": "0",
        "balance_asof": today.isoformat(),
        "options_trading_level": 0,
        "options_approved_level": 0,
        "intraday_adjustments": "0",
        "pending_reg_taf_fees": "0",
    }


def activity(a: Activity, account_id: str) -> dict[str, Any]:
    del account_id  # the spec's TradingActivities carry no account_id
    o = a.order
    return {
        "id": a.id,
        "activity_type": "FILL",
        "transaction_time": ts(a.at),
        "type": a.kind,
        "price": num(a.price),
        "qty": num(a.qty),
        "side": o.side,
        "symbol": o.symbol,
        "leaves_qty": num(o.qty - o.filled_qty),
        "order_id": o.id,
        "cum_qty": num(o.filled_qty),
        "order_status": o.status,
    }


def asset(a: Asset) -> dict[str, Any]:
    """Today's Assets schema: borrow_status instead of easy_to_borrow (removed 2026-11-24),
    the margin_requirement_* strings instead of maintenance_margin_requirement."""
    body: dict[str, Any] = {
        "id": a.id,
        "class": "us_equity",
        "exchange": a.exchange,
        "symbol": a.symbol,
        "name": a.name,
        "status": "active",
        "tradable": a.tradable,
        "marginable": True,
        "shortable": True,
        "fractionable": True,
        "cusip": None,
        "margin_requirement_long": "30",
        "margin_requirement_short": "100",
        "attributes": ["fractional_eh_enabled", "has_options"],
    }
    if a.borrow_status is not None:  # None: the control API made the field absent
        body["borrow_status"] = a.borrow_status
    return body


def market_clock(now: datetime) -> dict[str, Any]:
    return {
        "timestamp": ny(now),
        "is_open": clock.is_open(now),
        "next_open": ny(clock.next_open(now)),
        "next_close": ny(clock.next_close(now)),
    }


def calendar_day(s: clock.Session) -> dict[str, Any]:
    return {
        "date": s.day.isoformat(),
        "open": s.open.strftime("%H:%M"),
        "close": s.close.strftime("%H:%M"),
        "session_open": "0400",
        "session_close": "2000",
        "settlement_date": s.day.isoformat(),
    }


def error(code: int, message: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, **extra}
