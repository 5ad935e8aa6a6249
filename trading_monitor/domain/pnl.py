"""Profit and loss arithmetic on Decimals."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from trading_monitor.domain.sides import sign

ZERO = Decimal(0)


def realized_pnl(side: str, entry_price: Decimal, exit_price: Decimal, qty: Decimal) -> Decimal:
    """P&L of closing `qty` shares; side is the entry side ('buy' long, 'sell' short)."""
    return (exit_price - entry_price) * qty * sign(side)


def unrealized_pnl(side: str, avg_entry: Decimal, price: Decimal, qty: Decimal) -> Decimal:
    return realized_pnl(side, avg_entry, price, abs(qty))


def closed_pnl(side: str, entry_avg: Decimal, exits: Iterable[tuple[Decimal, Decimal]],
               fees: Decimal = ZERO) -> Decimal:
    """A trade's closing P&L: each exit `(qty, price)` against the entry's average price, in
    the position's favour (`side` is the entry side), less every fee the trade paid."""
    s = sign(side)
    return sum(((price - entry_avg) * qty * s for qty, price in exits), ZERO) - fees


def slippage_bps(side: str, requested: Decimal, executed: Decimal) -> Decimal:
    """How much worse than asked a fill was, in basis points (negative: better).

    `side` is the side of the order that filled: a buy paying more, or a sell getting less,
    slipped.
    """
    worse = (executed - requested) * sign(side)
    return (worse / requested * 10_000).quantize(Decimal("0.01"))
