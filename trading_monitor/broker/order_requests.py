"""Our order requests as alpaca-py request objects: alpaca-py stays the request builder.

Protective orders that could never be accepted are refused here, as final.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from alpaca.trading.enums import OrderClass, OrderSide, TimeInForce
from alpaca.trading.requests import (
    GetOrderByIdRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    StopLimitOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
)

from trading_monitor.broker.models import OrderRequest
from trading_monitor.exceptions import RejectedError

_ORDER_TYPES = {"market": MarketOrderRequest, "limit": LimitOrderRequest,
                "stop": StopOrderRequest, "stop_limit": StopLimitOrderRequest}


def nested_request() -> Any:
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
