"""A corporate action we were not told of in advance, found from the activities, and the
cycle's corporate-action step (docs/position-monitor.md, "Corporate actions").

When our quantity in a symbol no longer matches the broker's (or the symbol is gone), the
cycle looks for a SPLIT or NC activity (once per distinct mismatch, again every 30 minutes
while it lasts: Alpaca may post it later); with one, it reads the action itself by symbol
(or, if none is listed, derives the split from the activities: the new quantity plus any
cash in lieu, over ours) and stores it, and the same adjustment as for an announcement
follows, so reconciliation sees adjusted books instead of halting entries.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from trading_monitor.broker.models import BrokerOrder, BrokerPosition
from trading_monitor.db.queries import Queries
from trading_monitor.domain.corporate import LOOK_BACK, SPLITS, Announcement
from trading_monitor.domain.market_time import new_york_time
from trading_monitor.engine.announcements import read_today
from trading_monitor.engine.state import open_trades
from trading_monitor.ledger.splits import CorporateBooks
from trading_monitor.position_monitor.context import PositionMonitor
from trading_monitor.position_monitor.corporate_apply import (
    NEW_YORK,
    apply_due_actions,
    before_and_since,
)
from trading_monitor.position_monitor.corporate_cash import correct_cash_in_lieu

QUERIES = Queries(__name__)

CHECKED = "corporate_activity_check"  # system_state: the last mismatch looked up, and when
RECHECK = timedelta(minutes=30)  # the same mismatch is looked up again after this


def corporate_step(pm: PositionMonitor, positions: list[BrokerPosition],
                   open_orders: dict[str, BrokerOrder]) -> list[str]:
    """The position-monitor cycle's step before reconciliation: today's announcements (if
    no run read them yet), the actions missed, those due applied, cash in lieu corrected."""
    if pm.orders.dry_run:
        return []
    listed = {p.symbol for p in positions} | {o.symbol for o in open_orders.values()}
    return (read_today(pm.orders, listed) + discover_missed(pm, positions)
            + apply_due_actions(pm, positions, open_orders) + correct_cash_in_lieu(pm))


def discover_missed(pm: PositionMonitor, positions: list[BrokerPosition]) -> list[str]:
    """A quantity or symbol our books do not match: a SPLIT or NC activity behind it brings
    the action (read by symbol, or derived from the activities) into the books."""
    m = pm.orders
    ours: dict[str, Decimal] = defaultdict(Decimal)
    for row in m.db.execute_query(  # one query: the position rows, not every trade loaded
            QUERIES["open_position_qtys"]):  # issue 27
        ours[str(row["symbol"])] += abs(row["qty"])
    held = {p.symbol: abs(p.qty) for p in positions}
    mismatch = sorted((s, q, held.get(s, Decimal(0))) for s, q in ours.items()
                      if held.get(s, Decimal(0)) != q)
    if not mismatch:
        return []
    today = m.now().astimezone(NEW_YORK).date()
    key, now = f"{today}:{mismatch}", m.now()
    seen = m.db.named("system_value", {"key": CHECKED})
    last, _, last_key = str(seen[0]["value"] if seen else "").partition(" ")
    if last_key == key and last and now - datetime.fromisoformat(last) < RECHECK:
        return []  # the same mismatch looked up lately: Alpaca may post its activity later
    m.db.named_update("set_system_value", {"key": CHECKED, "value": f"{now.isoformat()} {key}",
                                           "reason": "quantities looked up in the activities"})
    acts = [a for a in m.broker.account_activities(["SPLIT", "NC", "CIL"],
                                                   after=m.now() - LOOK_BACK)
            if a.status != "canceled"]
    moved = [a for a in acts if a.activity_type in ("SPLIT", "NC") and a.symbol]
    if not moved:
        return []
    books = CorporateBooks(m.db, m.run_id, m.now)
    symbols = {str(a.symbol) for a in moved} | {s for s, _, _ in mismatch}
    found = m.broker.corporate_actions(symbols, today - LOOK_BACK, today)
    found = [a for a in found if a.adjusts] or _derived(pm, moved, acts, ours, held, today)
    return [f"corporate action found after the fact ({a.describe()}): applied as announced"
            for a in found if books.store_announcement(a, "activity")]


def _derived(pm: PositionMonitor, moved: list[Any], acts: list[Any], ours: dict[str, Decimal],
             held: dict[str, Decimal], today: date) -> list[Announcement]:
    """No announcement listed: a SPLIT activity in a symbol we hold gives the ratio (its new
    quantity, plus any cash in lieu, over what our trades held before the split day). A
    short's CIL quantity is negative: its size counts. Shares our trades traded since (a
    stop that covered at the open, in new shares) are what the broker holds beyond it."""
    out = []
    for a in moved:
        if a.activity_type != "SPLIT" or a.symbol not in ours or a.qty is None:
            continue
        cash = sum((abs(c.qty or Decimal(0)) for c in acts
                    if c.activity_type == "CIL" and c.symbol == a.symbol), Decimal(0))
        day = date.fromisoformat(a.date[:10]) if a.date else today
        old, later = _held_before(pm, a.symbol, new_york_time(day))
        old = old or ours[a.symbol]
        new = abs(a.qty) + cash
        if held.get(a.symbol, Decimal(0)) != abs(a.qty) + later or new == old or old == 0:
            continue
        kind = SPLITS[0] if new > old else SPLITS[1]
        out.append(Announcement(id=f"activity:{a.id}", kind=kind, symbol=a.symbol,
                                new_symbol=None, old_rate=old, new_rate=new, effective=day))
    return out


def _held_before(pm: PositionMonitor, symbol: str, since: datetime) -> tuple[Decimal, Decimal]:
    """Our open trades' shares in `symbol` from fills before `since`, and traded since."""
    trades = [t for t in open_trades(pm.orders) if t.journal["symbol"] == symbol
              and t.state.status.value == "POSITION"]
    parts = [before_and_since(t, since) for t in trades]
    return (sum((p for p, _ in parts), Decimal(0)), sum((q for _, q in parts), Decimal(0)))
