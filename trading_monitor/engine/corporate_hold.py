"""A close across a split waits for the split (issue 21; the lifecycle model's finding,
docs/reliability.md item 16).

A trade entered before a split or symbol change whose exit filled after it: the exit is in
new shares, the entry in old ones. Closing on the old count books the wrong P&L and leaves
the shares the split added out of the books, unprotected. So while an announced action
between the two is not yet applied to the trade, the close (or resize) waits; the position
monitor applies it in its next cycle, before it settles exits (position_monitor/cycle.py).
An order-monitor run at the open that comes before the pre-open run reads today's
announcements itself first, and, for a position held overnight and exited today, Alpaca's
SPLIT and NC activities since the entry (an action never announced: the position monitor
derives it from them, corporate_missed.py). The wait is bounded: past HOLD_LIMIT after the
exit filled (the broker's quantity never matched, say) the close goes through.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from trading_monitor.db.queries import Queries
from trading_monitor.domain.corporate import LOOK_BACK, Announcement, from_row
from trading_monitor.domain.lifecycle import OrderRole
from trading_monitor.domain.market_time import new_york_date, new_york_time
from trading_monitor.engine.announcements import read_today
from trading_monitor.engine.context import Monitor
from trading_monitor.engine.state import LoadedTrade
from trading_monitor.ledger.splits import CorporateBooks

QUERIES = Queries(__name__)

log = logging.getLogger(__name__)
HOLD_LIMIT = timedelta(minutes=30)


def split_pending(m: Monitor, trade: LoadedTrade) -> str | None:
    """The split or symbol change between this trade's entry and its exit fill that the
    position monitor has not applied to it yet, described, if any."""
    entered = trade.journal["entry_date"]
    exits = [f.at for f in trade.state.fills if f.role is not OrderRole.ENTRY]
    if entered is None or not exits:
        return None
    exited, today = max(exits), new_york_date(m.now())
    overnight = entered < new_york_time(today) <= exited
    if overnight:
        read_today(m)  # held overnight, exited today: today's splits must be known
    actions = _actions_between(m, trade, entered, exited)
    pending = [a for a in actions if not m.db.execute_query(
        QUERIES["corporate_action_applied_to"], [a.id, trade.state.journal_id])]
    if pending:
        return _within_limit(m, trade, exited, pending[0].describe())
    if actions or not overnight or m.now() - exited > HOLD_LIMIT:
        return None
    moved = [a for a in m.broker.account_activities(["SPLIT", "NC"], after=entered)
             if a.status != "canceled" and a.symbol == trade.journal["symbol"]]
    return (f"the {moved[0].activity_type} activity of {moved[0].symbol} (not announced)"
            if moved else None)


def _actions_between(m: Monitor, trade: LoadedTrade, entered: datetime, exited: datetime
                     ) -> list[Announcement]:
    """The stored splits and symbol changes of the trade's symbol that took effect after its
    entry and by its last exit fill."""
    books = CorporateBooks(m.db, m.run_id, m.now)
    first = max(new_york_date(entered), new_york_date(m.now()) - LOOK_BACK)
    actions = [from_row(r) for r in books.actions_between(first, new_york_date(m.now()))]
    symbol = trade.journal["symbol"]  # the new one once a symbol change is applied
    return [a for a in actions if a.adjusts and symbol in (a.symbol, a.new_symbol)
            and entered < new_york_time(a.effective) <= exited]


def _within_limit(m: Monitor, trade: LoadedTrade, exited: datetime, why: str) -> str | None:
    if m.now() - exited <= HOLD_LIMIT:
        return why
    log.warning("trade #%s: %s is still not applied to it %s after its exit filled: closed "
                "on the shares booked", trade.state.journal_id, why, HOLD_LIMIT)
    return None
