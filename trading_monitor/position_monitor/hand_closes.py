"""Closes by hand: the trader's own fills (of orders not ours) that reduced our position.

Only fills that reduce our position count, in time order and no more than our quantity: the
trader's own round trip in the symbol (a buy of 5, later sold) closes his shares first, not
ours. A fill wholly used becomes the trade's own (`fills.trade_journal_id`), so it closes
nothing else; one only partly ours prices the close but is left unattached.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from trading_monitor.db.connection import Row
from trading_monitor.db.queries import Queries
from trading_monitor.domain.lifecycle import ExitReason, OrderRole
from trading_monitor.domain.pnl import closed_pnl
from trading_monitor.domain.sides import Side
from trading_monitor.domain.ticks import price_text
from trading_monitor.engine.settle import settle_trade
from trading_monitor.engine.state import LoadedTrade, load_trades
from trading_monitor.engine.untracked import own_fill_since
from trading_monitor.position_monitor.context import PositionMonitor

log = logging.getLogger(__name__)
ZERO = Decimal(0)
QUERIES = Queries(__name__)  # queries.sql beside this module


@dataclass(frozen=True)
class HandClose:
    qty: Decimal
    price: Decimal  # the average of the parts that closed our shares
    filled_at: datetime
    ids: list[int]  # the fills wholly ours: attached to the trade


def closing_fills(pm: PositionMonitor, trade: LoadedTrade, qty: Decimal) -> HandClose | None:
    """The trader's fills that closed `qty` of our shares, or None if they do not."""
    j = trade.journal
    rows = pm.orders.db.execute_query(QUERIES["hand_fills_since"], {
        "symbol": j["symbol"], "since": j["entry_date"] or j["created_at"]})
    own, needed = ZERO, qty  # own: the trader's shares on our side, bought since our entry
    parts: list[tuple[Row, Decimal]] = []
    for f in rows:
        if f["side"] == j["side"]:
            own += f["qty"]
            continue
        from_own = min(own, f["qty"])
        own -= from_own
        use = min(f["qty"] - from_own, needed)
        if use > 0:
            parts.append((f, use))
            needed -= use
        if needed == 0:
            break
    if needed > 0 or not parts:
        return None
    price = sum((f["price"] * use for f, use in parts), ZERO) / qty
    return HandClose(qty, price, parts[-1][0]["filled_at"],
                     [int(f["id"]) for f, use in parts if use == f["qty"]])


def attach(pm: PositionMonitor, trade: LoadedTrade, close: HandClose) -> None:
    """Those fills are this trade's exit now: they close nothing else."""
    pm.orders.ledger.assign_exit_fills(trade.state.journal_id, close.ids,
                                       f"closed by hand @ {price_text(close.price)}")


def book_partial_close(pm: PositionMonitor, trade: LoadedTrade, detail: dict[str, str]
                       ) -> str | None:
    """The broker holds fewer of our shares than our books, and the trader's own fills
    explain it: book them as a partial exit, then resize the trade once (its position row
    and its protection), so nothing churns and the mismatch clears."""
    ours, broker = Decimal(detail["ours"]), Decimal(detail["broker"])
    if ours * broker <= 0 or abs(broker) >= abs(ours):
        return None  # not a partial close of ours (more held, or the other side)
    gap = abs(ours) - abs(broker)
    close = closing_fills(pm, trade, gap)
    if close is None or sum(_qty(pm, close.ids), ZERO) != gap:
        return None  # the fills do not explain it (yet): reconciliation's grace applies
    attach(pm, trade, close)
    [fresh] = load_trades(pm.orders.db, [trade.state.journal_id])
    done = settle_trade(pm.orders, fresh)
    log.warning("trade #%s %s: %s of its shares closed by hand @ %s; booked", fresh.state.
                journal_id, trade.journal["symbol"], gap, close.price)
    return (f"trade #{fresh.state.journal_id} {trade.journal['symbol']}: {gap} closed by hand "
            f"@ {price_text(close.price)}; " + "; ".join(done))


def close_flipped(pm: PositionMonitor, trade: LoadedTrade, detail: dict[str, str]
                  ) -> str | None:
    """The broker holds the other side of our trade: the trader's own fills closed all our
    shares and went on (a close by hand, then an order of his own). Our trade is closed at
    those fills (MANUAL), as when it is gone at the broker; what the broker still holds is
    then the trader's own, an untracked position (the caller adopts it). Only when the broker
    holds the other side, our trade alone holds the symbol (`ours`), the fills explain
    all of it, and they, like every fill of ours there, are older than the grace (the
    positions may lag a fill). An exit of ours that sold more is not explained here: it
    stays a QTY_MISMATCH, which fails past the grace."""
    j, t = trade.journal, trade.state
    ours, broker = Decimal(detail["ours"]), Decimal(detail["broker"])
    qty, avg = t.entry_filled[0] - t.exit_filled[0], t.entry_filled[1]
    settled = pm.orders.now() - pm.config.reconcile_grace
    if ours * broker >= 0 or qty <= 0 or avg is None or Side.of(t.side).signed(qty) != ours \
            or own_fill_since(pm.orders.db, j["symbol"], settled):
        return None
    close = closing_fills(pm, trade, qty)
    if close is None or close.filled_at > settled:
        return None
    exits = [(f.qty, f.price) for f in t.fills if f.role is not OrderRole.ENTRY]
    pnl = closed_pnl(t.side, avg, [*exits, (qty, close.price)])
    attach(pm, trade, close)
    pm.orders.ledger.close_trade(
        t.journal_id, exit_price=close.price, exit_at=close.filled_at, pnl=pnl,
        fees=Decimal(0), reason=ExitReason.MANUAL,
        text="MANUAL: closed by hand, per its fill; the broker holds the trader's own "
             "position on the other side", estimated=False)
    log.warning("trade #%s %s closed by hand @ %s; the broker holds the other side (the "
                "trader's own)", t.journal_id, j["symbol"], price_text(close.price))
    return (f"trade #{t.journal_id} {j['symbol']}: CLOSED MANUAL @ {price_text(close.price)}"
            "; the other side at the broker is the trader's own")


def _qty(pm: PositionMonitor, ids: list[int]) -> list[Decimal]:
    rows = pm.orders.db.execute_query(QUERIES["fill_qtys"], [ids])
    return [r["qty"] for r in rows]
