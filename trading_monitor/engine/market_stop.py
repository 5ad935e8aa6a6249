"""A stop priced from the market: for a position with no stop price of its own.

An adopted position (a trade of the trader's, found at the broker) has no decision's stop.
Its stop is EMERGENCY_STOP_PCT beyond the last trade, never at or through the market (priced
from the entry, a position already that far under water would be sold, not protected, R9).
With no fresh price (the adoption ran before the open) it has none yet; every later run that
settles the trade prices it as soon as a fresh price exists, so the position is never left
without a stop for longer than the market is without trades.
"""

from __future__ import annotations

import logging
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from trading_monitor.db.connection import Row
from trading_monitor.domain.lifecycle import TradeStatus
from trading_monitor.domain.ticks import CENT, price_text
from trading_monitor.domain.trade_actions import PlaceProtection
from trading_monitor.engine.context import Monitor
from trading_monitor.engine.state import LoadedTrade, load_trades

log = logging.getLogger(__name__)


def market_stop(m: Monitor, symbol: str, *, long: bool) -> Decimal | None:
    """EMERGENCY_STOP_PCT beyond the last trade, or None when no fresh price exists or the
    stop would not rest beyond the bid (the ask for a short)."""
    snap = m.broker.market_snapshots([symbol], m.config.data_feed).get(symbol)
    if snap is None or snap.last_price is None or snap.last_trade_at is None \
            or m.now() - snap.last_trade_at > m.config.max_price_age:
        return None
    pct = m.config.emergency_stop_pct / 100
    if long:
        stop = (snap.last_price * (1 - pct)).quantize(CENT, ROUND_DOWN)
        return stop if 0 < stop < min(snap.last_price, snap.bid or snap.last_price) else None
    stop = (snap.last_price * (1 + pct)).quantize(CENT, ROUND_UP)
    return stop if stop > max(snap.last_price, snap.ask or snap.last_price) else None


def price_missing_stop(m: Monitor, trade: LoadedTrade) -> LoadedTrade:
    """An open position with no stop price (adopted with no fresh price): priced from the
    market when a price exists now. Returns the trade, read again when it was priced."""
    t = trade.state
    if t.status is not TradeStatus.POSITION or t.planned_stop is not None \
            or t.position_qty <= 0 or m.config.external_protection != "stop":
        return trade
    stop = market_stop(m, trade.journal["symbol"], long=t.side == "buy")
    if stop is None:
        return trade
    why = "no stop price yet: EMERGENCY_STOP_PCT beyond the market"
    if m.dry_run:
        m.would(f"set trade #{t.journal_id}'s stop price to {price_text(stop)} ({why})")
        return trade
    m.ledger.set_planned_stop(t.journal_id, stop, why)
    log.warning("trade #%s %s had no stop price: set to %s from the market", t.journal_id,
                trade.journal["symbol"], price_text(stop))
    return load_trades(m.db, [t.journal_id])[0]


def wash_safe_protection(m: Monitor, journal: Row) -> PlaceProtection | None:
    """For a trade whose market exit Alpaca refuses as a wash trade (the trader's own order
    works on the other side) after its planned stop could not rest (through the market): an
    OCO, which the wash-trade rule exempts, for the shares no live stop covers, its stop
    EMERGENCY_STOP_PCT beyond the market and its target the plan's. None when no such OCO can
    be priced (no fresh price, no target): the ALERT stands and the exit is retried."""
    [trade] = load_trades(m.db, [int(journal["id"])])
    qty = trade.state.position_qty - trade.state.covered_qty()
    long = journal["side"] == "buy"
    stop = market_stop(m, journal["symbol"], long=long)
    take = journal["planned_take_profit"]
    if qty <= 0 or stop is None or take is None or (take <= stop if long else take >= stop):
        return None
    return PlaceProtection(qty=qty, stop_price=stop, take_profit=take, time_in_force="gtc")
