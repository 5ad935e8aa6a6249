"""Mark-to-market: price, value, unrealised P&L (dollars and R) and the high-water mark.

Prices come from batched snapshot requests (chunks of symbols, never one per position). A
missing or stale price marks the position stale and writes no value at all.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from trading_monitor.domain.market import MarketSnapshot
from trading_monitor.domain.pnl import unrealized_pnl
from trading_monitor.domain.sides import Side
from trading_monitor.engine.state import LoadedTrade
from trading_monitor.ledger.marks import Mark
from trading_monitor.position_monitor.context import PositionMonitor


def mark_positions(pm: PositionMonitor, trades: list[LoadedTrade],
                   market: dict[str, MarketSnapshot], stale_before: datetime) -> list[str]:
    """Every open position's mark, written in one statement for the whole book."""
    done: list[str] = []
    marks: list[Mark] = []
    for trade in trades:
        mark = _mark(trade, market, stale_before)
        if mark is None:
            continue
        if pm.orders.dry_run:
            pm.orders.would(f"mark trade #{mark.journal_id} {trade.journal['symbol']} at "
                            f"{mark.price}" + (" (stale)" if mark.stale else ""))
            continue
        if mark.stale:
            done.append(f"trade #{mark.journal_id} {trade.journal['symbol']}: price stale; "
                        "not marked")
        marks.append(mark)
    if marks and not pm.orders.dry_run:
        pm.orders.ledger.mark_positions(marks)
    return done


def _mark(trade: LoadedTrade, market: dict[str, MarketSnapshot], stale_before: datetime
          ) -> Mark | None:
    t, j = trade.state, trade.journal
    qty, avg = t.entry_filled[0] - t.exit_filled[0], t.entry_filled[1]
    if t.status.value != "POSITION" or qty <= 0 or avg is None or trade.position is None:
        return None
    snap = market.get(j["symbol"])
    price = snap.last_price if snap else None
    at = snap.last_trade_at if snap else None
    if price is None or at is None or at < stale_before:
        return Mark(t.journal_id, stale=True)
    pnl = unrealized_pnl(t.side, avg, price, qty)
    risk = abs(avg - t.planned_stop) * qty if t.planned_stop else None
    return Mark(t.journal_id, stale=False, price=price, at=at, market_value=price * qty,
                unrealized_pnl=pnl.quantize(Decimal("0.01")),
                unrealized_r=(pnl / risk).quantize(Decimal("0.01")) if risk else None,
                high_water_mark=_best(t.side, trade.position["high_water_mark"] or avg, price))


def _best(side: str, previous: Decimal, price: Decimal) -> Decimal:
    """The most favourable price since entry: the high for a long, the low for a short."""
    return Side.of(side).best(previous, price)
