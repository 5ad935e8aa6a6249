"""Profit and loss arithmetic on Decimals."""

from __future__ import annotations

from decimal import Decimal


def realized_pnl(side: str, entry_price: Decimal, exit_price: Decimal, qty: Decimal) -> Decimal:
    """P&L of closing `qty` shares; side is the entry side ('buy' long, 'sell' short)."""
    direction = Decimal(1) if side in ("buy", "long") else Decimal(-1)
    return (exit_price - entry_price) * qty * direction


def unrealized_pnl(side: str, avg_entry: Decimal, price: Decimal, qty: Decimal) -> Decimal:
    return realized_pnl(side, avg_entry, price, abs(qty))


def slippage_bps(side: str, requested: Decimal, executed: Decimal) -> Decimal:
    """How much worse than asked a fill was, in basis points (negative: better).

    `side` is the side of the order that filled: a buy paying more, or a sell getting less,
    slipped.
    """
    worse = executed - requested if side == "buy" else requested - executed
    return (worse / requested * 10_000).quantize(Decimal("0.01"))
