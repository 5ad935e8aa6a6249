"""A split that pays a whole position in cash in lieu (a reverse split of fewer shares than
one new share: 1 share, 1-for-2), docs/position-monitor.md, "Corporate actions".

The broker then holds no position, and the trade's bracket legs may still stand there (not
cancelled, DNR/DNC; or cancelled: Alpaca's behaviour is UNCONFIRMED). Two rules:

- `split_explains` (corporate_explains.py): an empty positions answer while our live stops
  stand is a broker fault (incident.py), unless a split due in that symbol paid it in cash.
- `close_cashed_out`: a trade the split left with no share is closed at once, the cash in
  lieu its exit (P&L against the split-adjusted entry; exit reason EXTERNAL, its text naming
  the split), an ALERT and an event say so, and any order of it still at the broker is
  cancelled on the broker's final word (the order monitor's orphan sweep backs it up).
"""

from __future__ import annotations

import logging
from decimal import Decimal

from trading_monitor.db.queries import Queries
from trading_monitor.domain.corporate import Announcement
from trading_monitor.domain.lifecycle import ExitReason, OrderRole
from trading_monitor.domain.pnl import closed_pnl
from trading_monitor.engine.settle import settle_trade
from trading_monitor.engine.state import load_trades
from trading_monitor.ledger.alerts import alert
from trading_monitor.ledger.runs import log_event
from trading_monitor.position_monitor.context import PositionMonitor

QUERIES = Queries(__name__)

log = logging.getLogger(__name__)
ZERO = Decimal(0)


def close_cashed_out(pm: PositionMonitor, touched: set[int]) -> list[str]:
    """Close each trade a split just applied left with no share (its cash in lieu booked
    by ledger/splits.py as an exit fill), then cancel what it still has at the broker."""
    m = pm.orders
    if not touched or m.dry_run:
        return []
    rows = m.db.execute_query(
        QUERIES["cashed_out_adjustments"], [sorted(touched)])
    done: list[str] = []
    for row in rows:
        jid = int(row["trade_journal_id"])
        [trade] = load_trades(m.db, [jid])
        st = trade.state
        exits = [f for f in st.fills if f.role is not OrderRole.ENTRY]
        entry_avg, (exit_qty, exit_avg) = st.entry_filled[1], st.exit_filled
        if st.status.value != "POSITION" or st.position_qty != 0 or not exits \
                or entry_avg is None or exit_avg is None:
            continue
        a = Announcement(id=row["action_id"], kind=row["kind"], symbol=row["symbol"],
                         new_symbol=row["new_symbol"], old_rate=row["old_rate"],
                         new_rate=row["new_rate"], effective=row["effective_date"])
        fees = sum((f.fee for f in st.fills), ZERO)
        pnl = closed_pnl(st.side, entry_avg, [(f.qty, f.price) for f in exits], fees)
        estimated = bool(m.db.execute_query(
            QUERIES["cash_in_lieu_fill_estimated"], [jid, f"cil:{a.id}"]))
        text = (f"cash in lieu: {a.describe()} paid the whole position of trade #{jid}: "
                f"{exit_qty} {trade.journal['symbol']} at {exit_avg}"
                + (" (estimated at the last mark: no CIL activity yet)" if estimated else "")
                + f", P&L {pnl:.2f}")
        m.ledger.close_trade(jid, exit_price=exit_avg, exit_at=max(f.at for f in exits),
                             pnl=pnl, fees=fees, reason=ExitReason.EXTERNAL, text=text,
                             estimated=estimated)
        log_event(m.db, m.run_id, "trade_journal", jid, "corporate_action", text,
                  detail={"action_id": a.id, "kind": a.kind, "pnl": str(pnl),
                          "estimated": estimated})
        alert(log, "corporate_action", f"trade #{jid}", "%s; the trade is CLOSED, and its "
              "orders still at the broker are cancelled", text)
        [fresh] = load_trades(m.db, [jid])
        done += [text, *settle_trade(m, fresh)]  # its orphans, on the broker's final word
    return done
