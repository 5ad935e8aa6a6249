"""Cash in lieu booked at the mark, corrected when Alpaca posts its CIL activity
(docs/position-monitor.md, "Corporate actions").

A split's fraction paid in cash is booked as a fill at the CIL activity's price, or at the
mark while no CIL is posted yet (ledger/splits.py). While such an estimated fill is younger
than LOOK_BACK, the cycle reads the CIL activities (at most every RECHECK) and, once one for
the symbol is posted, re-prices the fill at its cash per share; a trade already closed has
its P&L corrected by the difference. Each correction is in event_log.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from trading_monitor.db.queries import Queries
from trading_monitor.domain.corporate import LOOK_BACK, Announcement
from trading_monitor.domain.sides import Side
from trading_monitor.engine.state import LoadedTrade
from trading_monitor.ledger.runs import log_event
from trading_monitor.ledger.splits import CorporateBooks
from trading_monitor.position_monitor.context import PositionMonitor

QUERIES = Queries(__name__)

CHECKED = "cash_in_lieu_check"  # system_state: when the CIL activities were last read
RECHECK = timedelta(minutes=30)


def cash_price(pm: PositionMonitor, a: Announcement, cash: Decimal, mark: Decimal | None,
               since: datetime) -> tuple[Decimal | None, str | None, bool]:
    """The cash paid per share of the fraction, from Alpaca's CIL activity (one request,
    only when a fraction was paid); at the mark until it is posted."""
    if cash <= 0:
        return None, None, False
    symbols = {a.symbol, a.new_symbol}
    for act in pm.orders.broker.account_activities(["CIL"], after=since - timedelta(days=1)):
        if act.symbol in symbols and act.net_amount and act.qty:
            return abs(act.net_amount / act.qty), act.id, False
    return mark, None, True


def last_mark(trades: list[LoadedTrade], ratio: Decimal) -> Decimal | None:
    """With no position left to mark (a split paid it all in cash): our last mark, else the
    entry's price, split-adjusted."""
    for t in trades:
        price = (t.position or {}).get("current_price") or t.journal["actual_entry_price"]
        if price:
            return Decimal(price) / ratio
    return None


def correct_cash_in_lieu(pm: PositionMonitor) -> list[str]:
    m = pm.orders
    now = m.now()
    estimated = m.db.execute_query(
        QUERIES["cash_in_lieu_estimated"], [now - LOOK_BACK])
    if not estimated:
        return []
    seen = m.db.named("system_value", {"key": CHECKED})
    last = str(seen[0]["value"]) if seen and seen[0]["value"] else ""
    if last and now - datetime.fromisoformat(last) < RECHECK:
        return []
    m.db.named_update("set_system_value", {"key": CHECKED, "value": now.isoformat(),
                                           "reason": "cash in lieu looked up"})
    after = min(r["filled_at"] for r in estimated) - timedelta(days=1)
    posted = [a for a in m.broker.account_activities(["CIL"], after=after)
              if a.status != "canceled" and a.qty and a.net_amount is not None]
    done = []
    for row in estimated:
        act = next((a for a in posted if a.symbol == row["symbol"]), None)
        if act is None:
            continue
        price = abs(act.net_amount or Decimal(0)) / abs(act.qty or Decimal(1))
        delta = (price - row["price"]) * row["qty"] * Side.of(row["side"]).sign
        with m.db.transaction():
            CorporateBooks(m.db, m.run_id, m.now).reprice_cash_in_lieu(row, price, act.id, delta)
            text = (f"trade #{row['trade_journal_id']}: cash in lieu of {row['qty']} "
                    f"{row['symbol']} re-priced {row['price']} → {price} by CIL activity "
                    f"{act.id}" + (f"; closed P&L corrected by {delta}"
                                   if row["status"] == "CLOSED" and delta else ""))
            log_event(m.db, m.run_id, "trade_journal", row["trade_journal_id"],
                      "cash_in_lieu", text, detail={"activity_id": act.id,
                                                    "price": str(price), "delta": str(delta)})
        done.append(text)
    return done
