"""Pre-trade checks and trigger rules the engine applies, on the book they are given."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from trading_monitor.paper_exchange.book import Book
from trading_monitor.paper_exchange.market import Market
from trading_monitor.paper_exchange.orders import (
    CENT,
    TIFS,
    Order,
    OrderSpec,
    check_client_order_id,
    decimal_field,
    forbidden,
    invalid,
    price_field,
    validate_exit_prices,
)

RESTING = ("new", "accepted", "partially_filled", "pending_cancel")


def fmt(value: Decimal) -> str:
    """Decimal as Alpaca prints it: no exponent, no trailing zeros beyond the integer."""
    text = format(value.normalize(), "f")
    return text


def check_symbol(market: Market, asset_ids: dict[str, str], halted: set[str],
                 symbol: str) -> None:
    if symbol not in asset_ids or not market.knows(symbol):
        raise invalid(f'asset "{symbol}" not found')
    if symbol in halted:
        raise invalid(f"asset {symbol} is not tradable")


def check_exits(spec: OrderSpec, price: Decimal) -> None:
    base = spec.limit_price if spec.type == "limit" and spec.order_class != "oco" else price
    assert base is not None
    validate_exit_prices(spec, base)


def estimate(spec: OrderSpec | Order, price: Decimal) -> Decimal:
    if spec.type in ("limit", "stop_limit") and spec.limit_price is not None:
        return spec.limit_price
    if spec.type == "stop" and spec.stop_price is not None:
        return max(spec.stop_price, price) if spec.side == "buy" else spec.stop_price
    return price


def _counts_once(book: Book, order: Order) -> bool:
    if order.leg_role != "stop_loss":
        return True
    return not any(o.leg_role == "take_profit" for o in book.group(order))


def held_qty(book: Book, symbol: str, side: str, exclude: Order | None = None) -> Decimal:
    """Shares of a position already reserved by open orders closing it."""
    return sum(
        (o.remaining for o in book.working.values()
         if o.symbol == symbol and o.side == side and o.status in RESTING
         and o is not exclude and _counts_once(book, o)),
        Decimal(0),
    )


def reserved(book: Book, exclude: Order | None = None) -> Decimal:
    total = Decimal(0)
    for o in book.working.values():
        if o is exclude or o.status not in RESTING or o.parent_id is not None:
            continue
        if o.order_class != "oco" and book.opening(o.symbol, o.side):
            total += o.remaining * estimate(o, book.market.price(o.symbol))
    return total


def buying_power(book: Book, exclude: Order | None = None) -> Decimal:
    totals = book.ledger.totals(book.market.prices, reserved(book, exclude))
    return totals.buying_power


def check_funds(book: Book, symbol: str, side: str, qty: Decimal, price: Decimal,
                exclude: Order | None = None) -> None:
    """403 unless the shares (closing) or the buying power (opening) are there; `exclude` is
    the order being replaced, whose own reservation does not count against it."""
    pos = book.ledger.qty(symbol)
    if not book.opening(symbol, side):
        available = abs(pos) - held_qty(book, symbol, side, exclude)
        if qty > available:
            # Alpaca refuses an order that would flip a position in one go.
            raise forbidden(
                f"insufficient qty available for order (requested: {fmt(qty)}, "
                f"available: {fmt(available)})",
                symbol=symbol, available=fmt(available), existing_qty=fmt(abs(pos)),
                held_for_orders=fmt(abs(pos) - available),
            )
        return
    power = buying_power(book, exclude)
    cost = (qty * price).quantize(CENT)
    if cost > power:
        raise forbidden("insufficient buying power", buying_power=fmt(power),
                        cost_basis=fmt(cost))


def check_exit_only(book: Book, symbol: str, side: str, qty: Decimal) -> None:
    """An OCO only exits an existing position: without one there are no shares for it."""
    if book.opening(symbol, side):
        raise forbidden(f"insufficient qty available for order (requested: {fmt(qty)}, "
                        "available: 0)", symbol=symbol, available="0",
                        existing_qty=fmt(abs(book.ledger.qty(symbol))), held_for_orders="0")
    check_funds(book, symbol, side, qty, Decimal(0))


def can_afford_fill(book: Book, order: Order, price: Decimal) -> bool:
    if not book.opening(order.symbol, order.side):
        return True
    return order.remaining * price <= buying_power(book, exclude=order)


def trail_stop(order: Order) -> Decimal:
    assert order.hwm is not None
    if order.trail_price is not None:
        offset = order.trail_price
    else:
        assert order.trail_percent is not None
        offset = order.hwm * order.trail_percent / 100
    stop = order.hwm - offset if order.side == "sell" else order.hwm + offset
    return stop.quantize(CENT)


def executable_price(order: Order, price: Decimal) -> Decimal | None:
    """The price this order fills at now, or None; updates stop triggers and trailing marks."""
    buy = order.side == "buy"
    if order.type == "trailing_stop":
        assert order.hwm is not None
        order.hwm = max(order.hwm, price) if not buy else min(order.hwm, price)
        order.stop_price = trail_stop(order)
    if order.type in ("stop", "stop_limit", "trailing_stop") and not order.triggered:
        assert order.stop_price is not None
        if (buy and price >= order.stop_price) or (not buy and price <= order.stop_price):
            order.triggered = True
        else:
            return None
    if order.type in ("limit", "stop_limit"):
        assert order.limit_price is not None
        if (buy and price > order.limit_price) or (not buy and price < order.limit_price):
            return None
    # Gaps fill at the traded price, never at the (better) stop price.
    return price


def replacement_fields(old: Order, changes: Any) -> dict[str, Any]:
    if not isinstance(changes, dict) or not changes:
        raise invalid("at least one of qty, limit_price, stop_price, trail, time_in_force or "
                      "client_order_id is required")
    fields: dict[str, Any] = {}
    qty = decimal_field(changes, "qty")
    if qty is not None:
        fields["qty"] = qty
    for name, types in (("limit_price", ("limit", "stop_limit")),
                        ("stop_price", ("stop", "stop_limit"))):
        value = price_field(changes, name)
        if value is not None:
            if old.type not in types:
                raise invalid(f"cannot replace {name} of a {old.type} order")
            fields[name] = value
    trail = decimal_field(changes, "trail")
    if trail is not None:
        if old.type != "trailing_stop":
            raise invalid(f"cannot replace trail of a {old.type} order")
        fields["trail_price" if old.trail_price is not None else "trail_percent"] = trail
    tif = changes.get("time_in_force")
    if tif is not None:
        if str(tif).lower() not in TIFS:
            raise invalid(f"invalid time_in_force: {tif}")
        fields["time_in_force"] = str(tif).lower()
    client_id = check_client_order_id(changes.get("client_order_id"))
    if client_id is not None:
        fields["client_order_id"] = client_id
    return fields
