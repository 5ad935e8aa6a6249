"""Today's corporate-action announcements, read once a day (docs/position-monitor.md,
"Corporate actions").

The pre-open run reads them at 09:00 New York and at daemon start. When that run did not
happen (a broker error at 09:00, a job run by hand at the open), the first run of the day
that needs them reads them itself: a position-monitor cycle, and an order-monitor run about
to close a position held overnight (a split in between changes what its exit closed).
Which day was read last is kept in `system_state`, so the read costs its four requests once
a day, whichever job does it.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from trading_monitor.db.queries import Queries
from trading_monitor.domain.corporate import ENDING
from trading_monitor.domain.market_time import new_york_date
from trading_monitor.engine.context import Monitor
from trading_monitor.engine.state import open_trades
from trading_monitor.ledger.alerts import alert
from trading_monitor.ledger.runs import log_event
from trading_monitor.ledger.splits import CorporateBooks

QUERIES = Queries(__name__)

log = logging.getLogger(__name__)
READ_ON = "corporate_actions_read"  # system_state: the New York day last read


def read_today(m: Monitor, broker_symbols: set[str] | None = None) -> list[str]:
    """Read today's announcements unless a run already did today (never in a dry run).
    `broker_symbols`: those of the broker's positions and open orders, if this run has
    listed them already."""
    if m.dry_run or read_on(m) == new_york_date(m.now()):
        return []
    return read_announcements(m, broker_symbols)


def read_on(m: Monitor) -> date | None:
    rows = m.db.named("system_value", {"key": READ_ON})
    value = str(rows[0]["value"] or "") if rows else ""
    return date.fromisoformat(value) if value else None


def read_announcements(m: Monitor, broker_symbols: set[str] | None = None) -> list[str]:
    """Store the announcements for today and the next trading day, for every symbol we hold
    or work in; ALERT an ending action (merger, spin-off, ...) of a symbol we hold."""
    today = new_york_date(m.now())
    symbols = symbols_of_interest(m, broker_symbols)
    done = ["corporate actions: nothing held or working"]
    if symbols:
        following = next_trading_day(m, today)
        found = m.broker.corporate_actions(symbols, today, following)
        books = CorporateBooks(m.db, m.run_id, m.now)
        done = [f"corporate action announced: {a.describe()}" for a in found
                if books.store_announcement(a)]
        done += alert_ending(m, books, today, following)
        done.append(f"corporate actions read for {len(symbols)} symbols, {today} to {following}")
    m.db.named_update("set_system_value", {"key": READ_ON, "value": today.isoformat(),
                                           "reason": "corporate actions read"})
    return done


def symbols_of_interest(m: Monitor, broker_symbols: set[str] | None = None) -> set[str]:
    """Every symbol we hold or have working orders in (our trades', and the broker's), and
    those of decisions waiting for the executor (an entry into a symbol with an action that
    day is refused: the executor reads what is stored, with no request of its own)."""
    symbols = {str(t.journal["symbol"]) for t in open_trades(m)}
    symbols |= {str(r["ticker"]).upper() for r in m.db.execute_query(
        QUERIES["unexecuted_decision_tickers"])}
    if broker_symbols is None:
        broker_symbols = {p.symbol for p in m.broker.get_positions()}
        broker_symbols |= {o.symbol for o in m.broker.list_open_orders()}
    return symbols | broker_symbols


def next_trading_day(m: Monitor, today: date) -> date:
    days = m.broker.get_calendar(today + timedelta(days=1), today + timedelta(days=10))
    return min((d.date for d in days if d.date > today), default=today + timedelta(days=1))


def alert_ending(m: Monitor, books: CorporateBooks, today: date, following: date) -> list[str]:
    """An ALERT (once per action) for a merger, spin-off, worthless removal or redemption of
    a symbol we hold or work in, due today or the next trading day."""
    held = {str(t.journal["symbol"]): t.state.journal_id for t in open_trades(m)}
    done = []
    for row in books.actions_between(today, following):
        if row["kind"] not in ENDING or row["alerted_at"] is not None or row["symbol"] not in held:
            continue
        text = (f"{row['symbol']}: {row['kind'].replace('_', ' ')} on "
                f"{row['effective_date'].isoformat()} (corporate action {row['action_id']}); "
                f"trade #{held[row['symbol']]} holds or works in it: new entries are refused "
                "that day, and the position is the trader's to decide on")
        alert(log, "corporate_action", f"{row['symbol']} {row['action_id']}", "%s", text)
        log_event(m.db, m.run_id, "trade_journal", held[row["symbol"]], "corporate_action",
                  text, detail={"action_id": row["action_id"], "kind": row["kind"]})
        books.mark_alerted(row["action_id"])
        done.append(text)
    return done
