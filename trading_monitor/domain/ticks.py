"""Alpaca's price increments, and which way a price is rounded onto them.

Orders are priced in cents from $1 and in hundredths of a cent below (Alpaca refuses other
increments with 422 "sub-penny increment does not fulfill minimum pricing criteria"). A
protective stop is rounded so that the risk per share never grows: up for a long's sell stop,
down for a short's buy stop. Other prices (a target) go to the nearest tick. Average entry
prices are never rounded: they stay exact in NUMERIC.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
SUB_DOLLAR_TICK = Decimal("0.0001")


def tick_of(price: Decimal) -> Decimal:
    return CENT if price >= 1 else SUB_DOLLAR_TICK


def nearest_tick(price: Decimal) -> Decimal:
    return price.quantize(tick_of(price), rounding=ROUND_HALF_UP)


def protective_stop(entry_side: str, price: Decimal) -> Decimal:
    """A stop for a position entered on `entry_side` (buy: long, its stop sells), on Alpaca's
    tick and never further from the market than `price`."""
    rounding = ROUND_CEILING if entry_side == "buy" else ROUND_FLOOR
    rounded = price.quantize(tick_of(price), rounding=rounding)
    if rounded >= 1 > price:  # rounding up across $1 changes the tick: 0.99995 -> 1.00
        rounded = rounded.quantize(CENT, rounding=rounding)
    return rounded


def price_text(price: Decimal | None) -> str:
    """A price for a log line or an event message, on its tick: `659.65`, not an average's
    `659.6500000000000000` (the value itself stays exact). None is `-`."""
    return "-" if price is None else str(nearest_tick(Decimal(price)))
