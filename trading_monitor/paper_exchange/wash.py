"""Wash-trade protection, modelled on Alpaca's "User Protection: Preventing Wash Trades" page.

An order is refused (403) if it could trade against the same account's open order on the
other side of the same symbol. The page's table: a market or (plain) stop order on either side
always conflicts; two limit-priced orders (limit, stop_limit) conflict only when the buy's
limit is at or above the sell's. Complex orders (bracket, OCO, OTO, legs included) and
trailing stops are exempt, on both the new and the existing side.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from trading_monitor.paper_exchange.book import Book
from trading_monitor.paper_exchange.orders import ApiError, Order, forbidden

MESSAGE = "potential wash trade detected. use complex orders"
LIMIT_PRICED = ("limit", "stop_limit")


class Priced(Protocol):
    """What the check reads of an order, or of an order request (OrderSpec)."""

    side: str
    type: str
    order_class: str
    limit_price: Decimal | None


def _exempt(order: Priced) -> bool:
    return order.order_class != "simple" or order.type == "trailing_stop"


def _kind(order: Priced) -> str:
    # An order the exchange changed (a buy stop held as a stop-limit, a collared market order)
    # counts as what it was sent as: where the page is unclear, the order conflicts.
    return getattr(order, "converted_from", None) or order.type


def conflicts(new: Priced, old: Priced) -> bool:
    """Whether two orders of opposite sides could trade against each other (the page's table)."""
    if _kind(new) not in LIMIT_PRICED or _kind(old) not in LIMIT_PRICED:
        return True
    buy, sell = (new, old) if new.side == "buy" else (old, new)
    assert buy.limit_price is not None and sell.limit_price is not None
    return buy.limit_price >= sell.limit_price


def check(book: Book, symbol: str, new: Priced, exclude: Order | None = None) -> None:
    """403 if `new` could trade with an open opposite-side order; `exclude` is the order a
    PATCH replaces, which goes away if the replacement is accepted."""
    if not book.rules.wash_trade or _exempt(new):
        return
    for old in book.working.values():
        if (old is exclude or not old.is_open or old.symbol != symbol or old.side == new.side
                or _exempt(old)):
            continue
        if conflicts(new, old):
            raise wash_refusal()


def wash_refusal() -> ApiError:
    return forbidden(MESSAGE)
