"""Cash and positions, and the account arithmetic derived from them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

STARTING_CASH = Decimal("100000")
ZERO = Decimal(0)


@dataclass
class Position:
    symbol: str
    qty: Decimal  # signed: negative is short
    avg_entry_price: Decimal

    @property
    def cost_basis(self) -> Decimal:
        return self.qty * self.avg_entry_price


@dataclass
class Totals:
    cash: Decimal
    long_market_value: Decimal
    short_market_value: Decimal  # negative, as Alpaca reports it
    equity: Decimal
    buying_power: Decimal


class Ledger:
    """Positions move only on fills; the history lets the positions endpoint lag on purpose."""

    def __init__(self, cash: Decimal = STARTING_CASH) -> None:
        self.cash = cash
        self.positions: dict[str, Position] = {}
        self.history: list[tuple[datetime, dict[str, Position]]] = []

    def apply_fill(
        self, symbol: str, side: str, qty: Decimal, price: Decimal, at: datetime
    ) -> Decimal:
        """Book a fill and return the position quantity after it."""
        signed = qty if side == "buy" else -qty
        self.cash -= signed * price
        pos = self.positions.get(symbol)
        if pos is None:
            self.positions[symbol] = Position(symbol, signed, price)
        else:
            new_qty = pos.qty + signed
            if new_qty == 0:
                del self.positions[symbol]
            elif (pos.qty > 0) == (signed > 0):
                pos.avg_entry_price = (pos.cost_basis + signed * price) / new_qty
                pos.qty = new_qty
            elif (pos.qty > 0) != (new_qty > 0):
                # Crossed through flat: what is left is a fresh position at this price.
                self.positions[symbol] = Position(symbol, new_qty, price)
            else:
                pos.qty = new_qty
        self.history.append((at, self.snapshot()))
        return self.qty(symbol)

    def qty(self, symbol: str) -> Decimal:
        pos = self.positions.get(symbol)
        return pos.qty if pos else ZERO

    def snapshot(self) -> dict[str, Position]:
        return {s: replace(p) for s, p in self.positions.items()}

    def as_of(self, at: datetime) -> dict[str, Position]:
        """Positions as they stood at `at` (before any later fill)."""
        for when, snap in reversed(self.history):
            if when <= at:
                return snap
        return {}

    def totals(self, prices: dict[str, Decimal], reserved: Decimal = ZERO) -> Totals:
        long_mv = sum(
            (p.qty * prices[s] for s, p in self.positions.items() if p.qty > 0), ZERO
        )
        short_mv = sum(
            (p.qty * prices[s] for s, p in self.positions.items() if p.qty < 0), ZERO
        )
        equity = self.cash + long_mv + short_mv
        # A cash-style account: longs are paid in full and a short ties up its own value.
        buying_power = max(ZERO, equity - long_mv + short_mv - reserved)
        return Totals(self.cash, long_mv, short_mv, equity, buying_power)
