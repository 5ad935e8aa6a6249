"""Order records and the validation Alpaca applies to an order request before accepting it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

OPEN_STATUSES = frozenset(
    {"new", "accepted", "partially_filled", "held", "pending_new", "pending_cancel",
     "pending_replace", "accepted_for_bidding"}
)
TYPES = ("market", "limit", "stop", "stop_limit", "trailing_stop")
SIDES = ("buy", "sell")
TIFS = ("day", "gtc")
CLASSES = ("simple", "bracket", "oco", "oto")
MAX_CLIENT_ID = 128
CENT = Decimal("0.01")


class ApiError(Exception):
    """An error answered with Alpaca's `{"code", "message"}` body."""

    def __init__(self, status: int, code: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.extra}


def invalid(message: str) -> ApiError:
    return ApiError(422, 40010001, message)


def unprocessable(message: str) -> ApiError:
    return ApiError(422, 42210000, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, 40410000, message)


def forbidden(message: str, **extra: Any) -> ApiError:
    return ApiError(403, 40310000, message, **extra)


@dataclass
class Order:
    id: str
    client_order_id: str
    symbol: str
    asset_id: str
    side: str
    type: str
    time_in_force: str
    qty: Decimal
    created_at: datetime
    order_class: str = "simple"
    status: str = "new"
    filled_qty: Decimal = Decimal(0)
    filled_avg_price: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trail_price: Decimal | None = None
    trail_percent: Decimal | None = None
    hwm: Decimal | None = None
    notional: Decimal | None = None
    extended_hours: bool = False
    position_intent: str | None = None
    updated_at: datetime | None = None
    filled_at: datetime | None = None
    expired_at: datetime | None = None
    expires_at: datetime | None = None
    canceled_at: datetime | None = None
    failed_at: datetime | None = None
    replaced_at: datetime | None = None
    replaced_by: str | None = None
    replaces: str | None = None
    legs: list[str] = field(default_factory=list)
    parent_id: str | None = None
    leg_role: str | None = None  # "take_profit" / "stop_loss" for bracket, oco and oto exits
    triggered: bool = False  # a stop or stop_limit whose stop price has been reached
    cancel_due: datetime | None = None  # pending_cancel: when the cancel goes through
    # "stop" (a buy stop held as a stop-limit) or "market" (a collared market order): what the
    # client sent, which the wash-trade check goes by.
    converted_from: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.filled_qty


def decimal_field(body: dict[str, Any], name: str, *, positive: bool = True) -> Decimal | None:
    raw = body.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise invalid(f"invalid {name}") from None
    if not value.is_finite() or (positive and value <= 0):
        raise invalid(f"{name} must be > 0")
    return value


def price_field(body: dict[str, Any], name: str) -> Decimal | None:
    value = decimal_field(body, name)
    if value is not None and value != value.quantize(Decimal("0.0001")):
        raise invalid(f"invalid {name} {value}. sub-penny increment does not fulfill minimum "
                      "pricing criteria")
    return value


def choice(body: dict[str, Any], name: str, allowed: tuple[str, ...], default: str | None) -> str:
    raw = body.get(name, default)
    value = str(raw).lower() if raw is not None else None
    if value is None:
        raise invalid(f"{name} is required")
    if value not in allowed:
        raise invalid(f"invalid {name}: {raw}")
    return value


def check_client_order_id(value: Any) -> str | None:
    if value is None or value == "":
        return None
    text = str(value)
    if len(text) > MAX_CLIENT_ID:
        raise invalid(f"client_order_id must be no more than {MAX_CLIENT_ID} characters")
    return text


@dataclass
class OrderSpec:
    """A validated POST /v2/orders body."""

    symbol: str
    side: str
    type: str
    time_in_force: str
    order_class: str
    qty: Decimal | None
    notional: Decimal | None
    limit_price: Decimal | None
    stop_price: Decimal | None
    trail_price: Decimal | None
    trail_percent: Decimal | None
    client_order_id: str | None
    extended_hours: bool
    take_profit: Decimal | None = None
    stop_loss_stop: Decimal | None = None
    stop_loss_limit: Decimal | None = None


def parse_order(body: Any) -> OrderSpec:
    if not isinstance(body, dict):
        raise invalid("request body must be a JSON object")
    symbol = str(body.get("symbol") or "").upper()
    if not symbol:
        raise invalid("symbol is required")
    order_type = choice(body, "type", TYPES, None)
    spec = OrderSpec(
        symbol=symbol,
        side=choice(body, "side", SIDES, None),
        type=order_type,
        time_in_force=choice(body, "time_in_force", TIFS, None),
        order_class=choice(body, "order_class", CLASSES, "simple") if body.get("order_class")
        else "simple",
        qty=decimal_field(body, "qty"),
        notional=decimal_field(body, "notional"),
        limit_price=price_field(body, "limit_price"),
        stop_price=price_field(body, "stop_price"),
        trail_price=price_field(body, "trail_price"),
        trail_percent=decimal_field(body, "trail_percent"),
        client_order_id=check_client_order_id(body.get("client_order_id")),
        extended_hours=str(body.get("extended_hours", False)).lower() == "true",
    )
    if (spec.qty is None) == (spec.notional is None):
        raise invalid("qty or notional is required" if spec.qty is None
                      else "only one of qty or notional may be specified")
    if spec.notional is not None and (order_type != "market" or spec.time_in_force != "day"):
        raise invalid("notional orders must be day market orders")
    if order_type in ("limit", "stop_limit") and spec.limit_price is None and not (
        spec.order_class == "oco"
    ):
        raise invalid("limit_price is required")
    if order_type in ("stop", "stop_limit") and spec.stop_price is None:
        raise invalid("stop_price is required")
    if order_type == "trailing_stop" and (spec.trail_price is None) == (
        spec.trail_percent is None
    ):
        raise invalid("exactly one of trail_price or trail_percent is required")
    _parse_exits(body, spec)
    return spec


def _parse_exits(body: dict[str, Any], spec: OrderSpec) -> None:
    take_profit = body.get("take_profit") or {}
    stop_loss = body.get("stop_loss") or {}
    if not isinstance(take_profit, dict) or not isinstance(stop_loss, dict):
        raise invalid("take_profit and stop_loss must be objects")
    spec.take_profit = price_field(take_profit, "limit_price")
    spec.stop_loss_stop = price_field(stop_loss, "stop_price")
    spec.stop_loss_limit = price_field(stop_loss, "limit_price")
    if spec.order_class == "simple":
        return
    if spec.qty is None or spec.qty != spec.qty.to_integral_value():
        raise invalid("fractional and notional orders must be simple orders")
    if spec.order_class in ("bracket", "oco"):
        if spec.take_profit is None:
            raise invalid("take_profit.limit_price is required")
        if spec.stop_loss_stop is None:
            raise invalid("stop_loss.stop_price is required")
    if spec.order_class == "oto" and (spec.take_profit is None) == (spec.stop_loss_stop is None):
        raise invalid("oto orders require exactly one of take_profit or stop_loss")
    if spec.order_class == "oco":
        if spec.type != "limit":
            raise invalid("oco orders must be limit orders")
        spec.limit_price = spec.take_profit
    elif spec.type not in ("market", "limit"):
        raise invalid(f"{spec.order_class} orders must be market or limit orders")


def validate_exit_prices(spec: OrderSpec, base: Decimal) -> None:
    """Alpaca's bracket sanity checks, relative to the entry (limit or current) price."""
    buy = spec.side == "buy"
    if spec.order_class == "oco":
        # An OCO exits an existing position, so its side is the exit side.
        buy = not buy
    tp, sl = spec.take_profit, spec.stop_loss_stop
    if tp is not None:
        if buy and tp < base + CENT:
            raise invalid(f"take_profit.limit_price must be >= base_price + 0.01 ({base})")
        if not buy and tp > base - CENT:
            raise invalid(f"take_profit.limit_price must be <= base_price - 0.01 ({base})")
    if sl is not None:
        if buy and sl > base - CENT:
            raise invalid(f"stop_loss.stop_price must be <= base_price - 0.01 ({base})")
        if not buy and sl < base + CENT:
            raise invalid(f"stop_loss.stop_price must be >= base_price + 0.01 ({base})")
    if tp is not None and sl is not None and ((buy and tp <= sl) or (not buy and tp >= sl)):
        raise invalid("take_profit.limit_price must be beyond stop_loss.stop_price")
