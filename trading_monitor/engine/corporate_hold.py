"""A close across a split waits for the split (issue 21; the lifecycle model's findings,
docs/reliability.md item 16).

A trade entered before a split or symbol change whose exit filled after it: the exit is in
new shares, the entry in old ones. Closing on the old count books the wrong P&L and leaves
the shares the split added out of the books, unprotected. So when a night lies between a
trade's entry and its last exit fill, and an action between the two is not yet applied to
the trade, the close (or resize) waits; the position monitor applies it in its next cycle,
before it settles exits (position_monitor/cycle.py).

What is looked at: today's announcements (read first if no run has read them today: an
order-monitor run at the open can come before the pre-open run), the stored ones, and, when
none is stored, Alpaca's SPLIT and NC activities since the entry (an action announced on a
day whose pre-open run we missed, or never announced: the position monitor derives it from
them, corporate_missed.py), read once per cycle. `event_log` has a `close_held` row when the
hold begins. The close is never booked on the old count: a hold that lasts ALERT_AFTER (the
position monitor not running, or the broker's quantity never matching the split) is an
ALERT, and reconciliation shows the mismatch meanwhile.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from trading_monitor.db.queries import Queries
from trading_monitor.domain.corporate import LOOK_BACK, Announcement, from_row
from trading_monitor.domain.lifecycle import OrderRole
from trading_monitor.domain.market_time import new_york_date
from trading_monitor.engine.announcements import read_today
from trading_monitor.engine.context import Monitor
from trading_monitor.engine.corporate_reads import actions_of
from trading_monitor.engine.state import LoadedTrade
from trading_monitor.ledger.alerts import alert
from trading_monitor.ledger.runs import log_event

QUERIES = Queries(__name__)

log = logging.getLogger(__name__)
ALERT_AFTER = timedelta(minutes=30)


def split_pending(m: Monitor, trade: LoadedTrade) -> str | None:
    """Why this trade's close must wait for a split or symbol change the position monitor
    has not applied to it yet, if it must."""
    entered = trade.journal["entry_date"]
    exits = [f.at for f in trade.state.fills if f.role is not OrderRole.ENTRY]
    if entered is None or not exits or new_york_date(entered) >= new_york_date(max(exits)):
        return None  # no night between entry and exit: no split between them
    read_today(m)
    actions = _actions_between(m, trade, entered, max(exits))
    pending = [a.describe() for a in actions if not m.db.execute_query(
        QUERIES["corporate_action_applied_to"], [a.id, trade.state.journal_id])]
    if not actions:
        pending = _activities_since(m, trade, entered)
    return _held(m, trade, pending[0]) if pending else None


def _actions_between(m: Monitor, trade: LoadedTrade, entered: datetime, exited: datetime
                     ) -> list[Announcement]:
    """The stored splits and symbol changes of the trade's symbol that took effect after the
    day of its entry and by the day of its last exit fill."""
    today = new_york_date(m.now())
    first = max(new_york_date(entered), today - LOOK_BACK)
    # The trade's symbol is the new one once a symbol change is applied: old or new matches.
    rows = actions_of(m.db, str(trade.journal["symbol"]), first, today)
    return [a for a in map(from_row, rows) if a.adjusts
            and new_york_date(entered) < a.effective <= new_york_date(exited)]


def _activities_since(m: Monitor, trade: LoadedTrade, entered: datetime) -> list[str]:
    if m.split_activities is None:
        m.split_activities = [a for a in m.broker.account_activities(
            ["SPLIT", "NC"], after=m.now() - LOOK_BACK) if a.status != "canceled"]
    day = new_york_date(entered).isoformat()
    return [f"the {a.activity_type} activity of {a.symbol} on {a.date} (not announced)"
            for a in m.split_activities
            if a.symbol == trade.journal["symbol"] and (a.date or day) > day]


def _held(m: Monitor, trade: LoadedTrade, why: str) -> str:
    """The hold, recorded when it begins; an ALERT once it has lasted ALERT_AFTER."""
    jid = trade.state.journal_id
    rows = m.db.execute_query(QUERIES["close_held_since"], [jid])
    since = rows[0]["since"] if rows and rows[0]["since"] is not None else None
    if since is None and not m.dry_run:
        log_event(m.db, m.run_id, "trade_journal", jid, "close_held",
                  f"close held back until the position monitor applies {why}",
                  detail={"held_since": m.now().isoformat()})  # the jobs' clock, not now()
    elif since is not None and m.now() - since > ALERT_AFTER and m.dry_run:
        m.would(f"ALERT: trade #{jid}'s close has waited since {since:%Y-%m-%d %H:%M} UTC "
                f"for the position monitor to apply {why}")  # a dry run sends nothing
    elif since is not None and m.now() - since > ALERT_AFTER:
        alert(log, "corporate_action", f"trade #{jid}",
              "trade #%s %s: its close has waited since %s for the position monitor to apply "
              "%s; is the position monitor running?", jid, trade.journal["symbol"],
              f"{since:%Y-%m-%d %H:%M} UTC", why)
    return why
