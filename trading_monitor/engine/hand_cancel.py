"""A stop of ours cancelled at the broker by someone else: the trader took protection away
on purpose (to close the position by hand, say), so it is not put back at once.

The stream listener tells such a cancel from ours: every cancel of ours is made and recorded
under the monitors' advisory lock, which the listener takes before it handles an event, so
when our cancel's event is handled our row already says `canceled`. A `canceled` event for
a STOP_LOSS row our books still call live, of a trade holding a position whose entry has
filled, is someone else's. (A partly filled entry's legs, cancelled with it by the
executor, are protected again at once.)

It is recorded as an event_log row `stop_cancelled_by_hand` whose detail says until when
(HAND_CANCEL_GRACE_SECONDS on the job clock); while it holds, `settle_trade` places no new
protection for that trade, whichever job settles it. When the grace is over the listener
writes `hand_cancel_grace_over` and settles the trade: if the position is still there, it is
protected again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from trading_monitor.db.connection import Row, TradingDB
from trading_monitor.db.queries import Queries
from trading_monitor.domain.corporate import from_row
from trading_monitor.domain.lifecycle import LIVE_ORDER_STATUSES, OrderRole
from trading_monitor.domain.market_time import new_york_date
from trading_monitor.engine.context import Monitor
from trading_monitor.engine.corporate_reads import actions_of
from trading_monitor.engine.symbol_halts import halted
from trading_monitor.ledger.alerts import alert
from trading_monitor.ledger.runs import log_event

log = logging.getLogger(__name__)
QUERIES = Queries(__name__)  # queries.sql beside this module

MARKED, OVER = "stop_cancelled_by_hand", "hand_cancel_grace_over"
RECENT = timedelta(days=4)  # a weekend between an action's ex-date and our first run


def cancelled_by_someone_else(db: TradingDB, row: Row, event: str) -> bool:
    if event != "canceled" or row["order_role"] != OrderRole.STOP_LOSS.value:
        return False
    # pending_cancel: a cancel of ours not final yet, now final.
    if row["order_status"] not in LIVE_ORDER_STATUSES - {"pending_cancel"} or \
            row["trade_journal_id"] is None:
        return False
    journal = db.get_by_id("trade_journal", row["trade_journal_id"])
    if journal is None or journal["status"] != "POSITION":
        return False
    if str(row["symbol"]) in halted(db):
        return False  # a stop elected by a halt's reopening print, cancelled by Alpaca (issue 21)
    entries = [r for r in db.query("order_execution", {"trade_journal_id": journal["id"]})
               if r["order_role"] == OrderRole.ENTRY.value]
    return bool(entries) and all(r["order_status"] == "filled" for r in entries)


def notice(m: Monitor, row: Row) -> None:
    """Called with the broker's `canceled` for one of our rows, before it is recorded: a
    stop cancelled by someone else is marked (its grace) and alerted."""
    if not cancelled_by_someone_else(m.db, row, "canceled"):
        return
    action = _corporate_action_around(m, str(row["symbol"]))
    if action is not None:  # the broker's own doing (a leg scaled below one share, ...)
        log_event(m.db, m.run_id, "trade_journal", int(row["trade_journal_id"]),
                  "stop_cancelled_by_broker",
                  f"stop {row['client_order_id']} cancelled at the broker around {action}: "
                  "no grace, the trade is protected again as the split is applied")
        log.warning("trade #%s %s: its stop %s was cancelled at the broker around %s; not "
                    "a hand's cancel: it is protected again at once", row["trade_journal_id"],
                    row["symbol"], row["client_order_id"], action)
        return
    grace = m.config.hand_cancel_grace
    mark(m.db, m.run_id, row, m.now() + grace)
    alert(log, "unprotected", f"trade #{row['trade_journal_id']}",
          "trade #%s %s: its stop %s was cancelled at the broker, not by us; no new stop for "
          "%g s (HAND_CANCEL_GRACE_SECONDS) so it can be closed by hand, then it is "
          "protected again if the position is still there", row["trade_journal_id"],
          row["symbol"], row["client_order_id"], grace.total_seconds())


def mark(db: TradingDB, run_id: str, row: Row, until: datetime) -> None:
    log_event(db, run_id, "trade_journal", int(row["trade_journal_id"]), MARKED,
              f"stop {row['client_order_id']} cancelled at the broker, not by us; no new "
              f"stop until {until.isoformat(timespec='seconds')}",
              detail={"order": row["client_order_id"], "until": until.isoformat()})


def grace_over(db: TradingDB, run_id: str, trade_id: int) -> None:
    log_event(db, run_id, "trade_journal", trade_id, OVER,
              "the grace after a stop cancelled by hand is over")


def held_until(db: TradingDB, trade_id: int, now: datetime) -> datetime | None:
    """Until when no new protection goes out for the trade (a stop cancelled by hand)."""
    rows = db.execute_query(QUERIES["last_hand_cancel_mark"],
                            {"trade": trade_id, "marked": MARKED, "over": OVER})
    if not rows or rows[0]["event"] != MARKED:
        return None
    until = datetime.fromisoformat(str((rows[0]["detail"] or {}).get("until")))
    return until if until > now else None


def _corporate_action_around(m: Monitor, symbol: str) -> str | None:
    """A stored split, symbol change or ending action of `symbol` that took effect in the
    last few days: Alpaca cancels a leg it cannot carry through one (a reverse split below
    one share, a merger), which is not the trader taking protection away."""
    today = new_york_date(m.now())
    rows = actions_of(m.db, symbol, today - RECENT, today)
    return from_row(rows[-1]).describe() if rows else None  # the latest
