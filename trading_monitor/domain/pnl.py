"""Profit and loss arithmetic on Decimals."""

from __future__ import annotations

from decimal import Decimal


def realized_pnl(side: str, entry_price: Decimal, exit_price: Decimal, qty: Decimal) -> Decimal:
    """P&L of closing `qty` shares; side is the entry side ('buy' long, 'sell' short)."""
    direction = Decimal(1) if side in ("buy", "long") else Decimal(-1)
    return (exit_price - entry_price) * qty * direction


def unrealized_pnl(side: str, avg_entry: Decimal, price: Decimal, qty: Decimal) -> Decimal:
    return realized_pnl(side, avg_entry, price, abs(qty))
