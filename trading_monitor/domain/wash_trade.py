"""Alpaca's wash-trade rule as a table (User Protection, "Preventing Wash Trades"). Pure.

Alpaca refuses (403, code 40310000, "potential wash trade detected. use complex orders") an
order that could trade against an open order of the same account on the other side of the
same symbol. The page's table: a market or plain stop order conflicts with any opposite open
order; two limit-priced orders (limit, stop_limit) conflict only when the buy's limit is at
or above the sell's. Complex orders (bracket, OCO, OTO, their legs included) and trailing
stops are exempt, as the new order and as the open one.

Every order the order monitor sends is checked against this table first, so it never sends
one Alpaca will refuse: a plain stop while our own staged entry still works is the case that
matters (the entry's unfilled rest is withdrawn first, see trade_state.decide).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

LIMIT_PRICED = frozenset({"limit", "stop_limit"})
COMPLEX_CLASSES = frozenset({"bracket", "oco", "oto"})


@dataclass(frozen=True)
class OrderShape:
    """What the rule reads of an order: side, type, class and limit price."""

    side: str  # buy | sell
    order_type: str  # market | limit | stop | stop_limit | trailing_stop
    order_class: str = "simple"
    limit_price: Decimal | None = None
    name: str = ""  # the client order id, for the caller's messages

    @property
    def exempt(self) -> bool:
        return self.order_class in COMPLEX_CLASSES or self.order_type == "trailing_stop"


def conflicts(new: OrderShape, old: OrderShape) -> bool:
    """Whether Alpaca refuses `new` while `old` is open (same symbol, same account)."""
    if new.side == old.side or new.exempt or old.exempt:
        return False
    if new.order_type not in LIMIT_PRICED or old.order_type not in LIMIT_PRICED:
        return True  # a market or plain stop order could trade against anything opposite
    buy, sell = (new, old) if new.side == "buy" else (old, new)
    if buy.limit_price is None or sell.limit_price is None:
        return True  # a limit order without a price: where unclear, it conflicts
    return buy.limit_price >= sell.limit_price


def refused_by(new: OrderShape, open_orders: Iterable[OrderShape]) -> list[OrderShape]:
    """The open orders (same symbol) that make `new` a wash trade; empty: it may go out."""
    return [old for old in open_orders if conflicts(new, old)]


def is_wash_refusal(message: str) -> bool:
    """Alpaca gives code 40310000 to both a wash trade and held shares ("insufficient qty
    available"): only the message tells them apart."""
    return "wash trade" in message.lower()
