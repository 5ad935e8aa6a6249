"""A trade's side and what follows from it: the sign of its P&L and the side that closes it.

One definition for every job. Our rows and Alpaca spell a side `buy`/`sell`, a decision
`BUY`/`SELL`, a position row `long`/`short`: `Side.of` reads them all, and refuses anything
else rather than guess which way a position faces.
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum

_SPELLINGS = {"buy": "buy", "long": "buy", "sell": "sell", "short": "sell"}


class Side(str, Enum):
    """The entry side: `buy` opens a long, `sell` opens a short."""

    BUY = "buy"
    SELL = "sell"

    @classmethod
    def of(cls, text: str) -> Side:
        try:
            return cls(_SPELLINGS[str(text).lower()])
        except KeyError:
            raise ValueError(f"not a side: {text!r}") from None

    @classmethod
    def holding(cls, qty: Decimal) -> Side:
        """The entry side of a signed position quantity (the broker's: short is negative)."""
        if qty == 0:
            raise ValueError("a flat position faces no side")
        return cls.BUY if qty > 0 else cls.SELL

    @property
    def sign(self) -> Decimal:
        """+1 for a long, -1 for a short: a price move times this is the position's gain."""
        return Decimal(1) if self is Side.BUY else Decimal(-1)

    def signed(self, qty: Decimal) -> Decimal:
        """A quantity as the broker signs a position: negative for a short."""
        return qty * self.sign

    def moved(self, price: Decimal, fraction: Decimal) -> Decimal:
        """`price` moved by `fraction` in this position's favour (up for a long)."""
        return price * (1 + self.sign * fraction)

    def best(self, a: Decimal, b: Decimal) -> Decimal:
        """The more favourable of two prices: the higher for a long, the lower for a short."""
        return max(a, b) if self is Side.BUY else min(a, b)

    def reached(self, price: Decimal, level: Decimal) -> bool:
        """`price` is at `level` or beyond it in this position's favour (a target reached)."""
        return (price - level) * self.sign >= 0

    @property
    def position(self) -> str:
        """How a position row spells it: `long` or `short`."""
        return "long" if self is Side.BUY else "short"

    @property
    def exit(self) -> Side:
        """The side of an order that closes the position (its stop, its target, its exit)."""
        return Side.SELL if self is Side.BUY else Side.BUY


def sign(side: str) -> Decimal:
    """The P&L sign of a position entered on `side` (any spelling `Side.of` reads)."""
    return Side.of(side).sign


def exit_side(side: str) -> str:
    """`sell` for a long, `buy` for a short."""
    return Side.of(side).exit.value
