"""Positions no trade of ours explains, judged with reconciliation's grace.

Alpaca's positions lag its orders by seconds: right after our own exit fills, the position
list still shows the shares just sold. Acting on that (adopting and selling them again) is
how the end-of-day flatten once left the account short. So a position that no trade explains
is acted on only once it has been seen for `reconcile_grace` (the `reconciliation_issue`
row the position monitor also keeps, so both jobs count from the first sighting), and never
while a fill of ours on that symbol is younger than the grace.
"""

from __future__ import annotations

from datetime import datetime

from trading_monitor.broker.models import BrokerPosition
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.pg import Json
from trading_monitor.db.queries import Queries
from trading_monitor.engine.context import Monitor

QUERIES = Queries(__name__)  # queries.sql beside this module


def own_fill_since(db: TradingDB, symbol: str, since: datetime) -> bool:
    """A fill of an order of ours on this symbol after `since`: the broker's positions may
    not show it yet."""
    return bool(db.execute_query(QUERIES["recent_own_fill"], {"symbol": symbol, "since": since}))


def untracked_key(symbol: str) -> str:
    return f"UNTRACKED:{symbol}:"  # domain.reconcile.Issue.key of an UNTRACKED issue


def seen_long_enough(m: Monitor, p: BrokerPosition) -> bool:
    """True once this untracked position has outlasted the grace, and no fill of ours on
    its symbol is younger than the grace."""
    now = m.now()
    rows = m.db.execute_query(QUERIES["untracked_first_seen"], [untracked_key(p.symbol)])
    first = rows[0]["first_seen_at"] if rows else now
    if not rows and not m.dry_run:
        m.db.insert("reconciliation_issue", {
            "run_id": m.run_id, "issue_key": untracked_key(p.symbol), "kind": "UNTRACKED",
            "symbol": p.symbol, "detail": Json({"ours": "0", "broker": str(p.qty)}),
            "first_seen_at": now})
    grace = m.config.reconcile_grace
    return now - first >= grace and not own_fill_since(m.db, p.symbol, now - grace)


def clear_gone(m: Monitor, symbols: set[str]) -> None:
    """UNTRACKED issues of symbols no longer untracked are resolved: a later sighting starts
    its grace afresh."""
    if m.dry_run:
        return
    m.db.execute_update(QUERIES["clear_gone_untracked"], [m.now(), m.run_id, sorted(symbols)])
