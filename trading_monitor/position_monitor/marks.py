"""Mark-to-market: price, value, unrealised P&L (dollars and R) and the high-water mark.

Prices come from batched snapshot requests (chunks of symbols, never one per position). A
missing or stale price marks the position stale and writes no value at all.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from trading_monitor.domain.market import MarketSnapshot
from trading_monitor.domain.pnl import unrealized_pnl
from trading_monitor.order_monitor.state import LoadedTrade
from trading_monitor.position_monitor.context import PositionMonitor


def mark_positions(pm: PositionMonitor, trades: list[LoadedTrade],
                   market: dict[str, MarketSnapshot], stale_before: datetime) -> list[str]:
    done = []
    for trade in trades:
        t, j = trade.state, trade.journal
        qty, avg = t.entry_filled[0] - t.exit_filled[0], t.entry_filled[1]
        if t.status.value != "POSITION" or qty <= 0 or avg is None:
            continue
        snap = market.get(j["symbol"])
        price = snap.last_price if snap else None
        at = snap.last_trade_at if snap else None
        stale = price is None or at is None or at < stale_before
        if pm.orders.dry_run:
            pm.orders.would(f"mark trade #{t.journal_id} {j['symbol']} at {price}"
                            + (" (stale)" if stale else ""))
            continue
        if stale:
            pm.orders.ledger.mark_position(t.journal_id, price=None, at=None, market_value=None,
                                           unrealized_pnl=None, unrealized_r=None,
                                           high_water_mark=None, stale=True)
            done.append(f"trade #{t.journal_id} {j['symbol']}: price stale ({at}); not marked")
            continue
        assert price is not None
        pnl = unrealized_pnl(t.side, avg, price, qty)
        risk = abs(avg - t.planned_stop) * qty if t.planned_stop else None
        pm.orders.ledger.mark_position(
            t.journal_id, price=price, at=at, market_value=price * qty,
            unrealized_pnl=pnl.quantize(Decimal("0.01")),
            unrealized_r=(pnl / risk).quantize(Decimal("0.01")) if risk else None,
            high_water_mark=_best(t.side, _hwm(pm, t.journal_id) or avg, price), stale=False)
    return done


def _hwm(pm: PositionMonitor, journal_id: int) -> Decimal | None:
    rows = pm.orders.db.query("position_tracking", {"trade_journal_id": journal_id})
    return rows[0]["high_water_mark"] if rows else None


def _best(side: str, previous: Decimal | None, price: Decimal) -> Decimal:
    """The most favourable price since entry: the high for a long, the low for a short."""
    if previous is None:
        return price
    return max(previous, price) if side == "buy" else min(previous, price)
