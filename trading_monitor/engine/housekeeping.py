"""Work that is due by the clock rather than by a fill.

- Protective orders whose trade is no longer a position are cancelled after a grace period
  (seed 000's orphan cleanup).
- Day trades at the end of the session (`end_of_day.py`, exits in `flatten.py`).
- A GTC protective order near its `expires_at` (Alpaca cancels GTC orders after 90 days) is
  replaced by a new one before then.
"""

from __future__ import annotations

import logging
from datetime import datetime

from trading_monitor.db.connection import Row
from trading_monitor.domain.lifecycle import OrderRole
from trading_monitor.domain.order_status import SQL_PARAMS, OrderStatus
from trading_monitor.engine.context import Monitor
from trading_monitor.engine.end_of_day import flatten_day_trades
from trading_monitor.engine.flatten import covered_by, flatten_trade, protect_again
from trading_monitor.engine.session import NEW_YORK, session_close
from trading_monitor.engine.settle import cancel_orders
from trading_monitor.engine.state import LoadedTrade, load_trades

__all__ = ["NEW_YORK", "cancel_orphans", "flatten_day_trades", "flatten_trade",
           "renew_aging_gtc", "session_close"]
log = logging.getLogger(__name__)


def cancel_orphans(m: Monitor) -> list[str]:
    rows = m.db.named("orphan_protective_orders", {"before": m.now() - m.config.orphan_grace,
                                                   **SQL_PARAMS})
    heads = [r for r in rows if r["parent_order_execution_id"] is None
             or not any(p["id"] == r["parent_order_execution_id"] for p in rows)]
    if not heads:
        return []
    names = ", ".join(r["client_order_id"] for r in heads)
    if m.dry_run:
        m.would(f"cancel orphaned protection {names}")
        return []
    cancel_orders(m, heads)
    return [f"cancelled orphaned protection {names}"]


def renew_aging_gtc(m: Monitor, trades: list[LoadedTrade]) -> list[str]:
    limit = m.now() + m.config.gtc_renew_before
    done = []
    for trade in trades:
        entries = {int(r["id"]) for r in trade.orders
                    if r["order_role"] == OrderRole.ENTRY.value}
        aging = [r for r in trade.orders if _aging(r, limit, entries)]
        if not aging:
            continue
        names = ", ".join(r["client_order_id"] for r in aging)
        if m.dry_run:
            m.would(f"replace aging GTC protection {names}")
            continue
        if cancel_orders(m, aging):
            # Every share the old orders covered is covered again (the broker's size of them:
            # after a split the books may hold fewer), GTC, with the target for a SWING.
            ids = {int(r["id"]) for r in aging}
            ids |= {int(r["id"]) for r in trade.orders if r["parent_order_execution_id"] in ids}
            [fresh] = load_trades(m.db, [trade.state.journal_id])
            again = protect_again(m, fresh, covered_by(fresh, ids), "renewing aging GTC "
                                  "protection", loud=False)
            done.append(f"renewed {names}: " + "; ".join(again))
    return done


def _aging(r: Row, limit: datetime, entry_ids: set[int]) -> bool:
    """A live GTC exit near Alpaca's 90-day expiry: a stop or OCO of ours, or a leg of a
    filled bracket (its parent is the entry; an OCO's leg goes with its parent)."""
    parent = r["parent_order_execution_id"]
    return (r["order_role"] != OrderRole.ENTRY.value and r["time_in_force"] == "gtc"
            and r["expires_at"] is not None and r["expires_at"] <= limit
            and (parent is None or parent in entry_ids)
            and OrderStatus(r["order_status"]).protects)
