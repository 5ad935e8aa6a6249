"""The short side's rules (pure; issue 21, /work/shared/alpaca/changes-2026.md §4).

Buying power for an opening short, as Alpaca computes it (Orders at Alpaca, "Buying Power"):
the greater of the limit price and 3% above the current ask, times the quantity. Without an
ask (no quote, or market data not read) the limit price alone is used: a lower bound, which
Alpaca's own check then completes (a 403 "insufficient buying power" rejects the decision).
"""

from __future__ import annotations

from decimal import Decimal

from trading_monitor.domain.decision import Decision
from trading_monitor.domain.market import MarketSnapshot

SHORT_ASK_MARKUP = Decimal("1.03")


def buying_power_needed(d: Decision, snapshot: MarketSnapshot | None) -> tuple[Decimal, str]:
    """(what the entry takes from buying power, how it was computed)."""
    notional = d.notional
    if d.side is None or d.side.value.upper() != "SELL":
        return notional, f"{notional:.2f}"
    limit = d.entry_price if d.entry_price is not None else Decimal(0)
    ask = snapshot.ask if snapshot is not None else None
    marked = ask * SHORT_ASK_MARKUP if ask else Decimal(0)
    price = max(limit, marked)
    needed = price * d.order_quantity
    if marked > limit:
        how = (f"{needed:.2f} (an opening short: 3% above the ask {ask}, {marked:.4f}, "
               f"over the limit {limit}, × {d.order_quantity})")
    else:
        how = f"{needed:.2f} (an opening short: the limit {limit} × {d.order_quantity})"
    return needed, how
