"""Exits that do not fill (issue 21): a market exit of ours (end-of-day flatten, kill switch,
emergency, approved target) still working at the broker. Read from our order rows, which the
sync keeps at the broker's last word: no broker request.

- `status` and the daily report show each one as "exit working since …";
- the position monitor raises an ALERT (kind `exit_working`, once per order) for one still
  working after EXIT_WORKING_ALERT_SECONDS;
- the kill switch and the end-of-day flatten list the exits of theirs not filled when they
  finish.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from trading_monitor.db.connection import Row, TradingDB
from trading_monitor.db.queries import Queries
from trading_monitor.domain.order_status import FINAL, PENDING_SUBMIT
from trading_monitor.ledger.alerts import alert
from trading_monitor.ledger.runs import log_event

QUERIES = Queries(__name__)  # queries.sql beside this module

log = logging.getLogger(__name__)
NOT_WORKING = sorted(FINAL | {PENDING_SUBMIT})


def working_exits(db: TradingDB, trade_ids: Iterable[int] | None = None) -> list[Row]:
    """Our market exits the broker holds and that may still fill, oldest first."""
    rows = db.execute_query(
        QUERIES["exits_working_orders"],
        [NOT_WORKING])
    if trade_ids is not None:
        wanted = set(trade_ids)
        rows = [r for r in rows if r["trade_journal_id"] in wanted]
    return rows


def since(row: Row) -> datetime:
    return row["submitted_at"] or row["created_at"]


def describe(row: Row) -> str:
    return (f"trade #{row['trade_journal_id']} {row['symbol']}: exit {row['client_order_id']} "
            f"({row['purpose']}, {row['filled_qty'] or 0} of {row['qty']} filled, "
            f"{row['order_status']}) working since {since(row).isoformat(timespec='seconds')}")


def overdue(db: TradingDB, now: datetime, after: timedelta) -> list[Row]:
    return [r for r in working_exits(db) if now - since(r) >= after]


def alert_overdue(db: TradingDB, run_id: str, now: datetime, after: timedelta) -> list[str]:
    """An ALERT once per exit still working `after` its submission (remembered in
    event_log as `exit_working` on the order)."""
    done = []
    for row in overdue(db, now, after):
        seen = db.execute_query(
            QUERIES["exits_working_logged"], [row["id"]])
        if seen:
            continue
        text = describe(row)
        alert(log, "exit_working", f"trade #{row['trade_journal_id']}",
              "%s: not filled after %s s; the shares are not protected by a stop while it "
              "works", text, int(after.total_seconds()))
        log_event(db, run_id, "order_execution", row["id"], "exit_working", text)
        done.append(text)
    return done


def unfilled_lines(db: TradingDB, trade_ids: Iterable[int] | None = None) -> list[str]:
    """What the kill switch (every trade) and the end-of-day flatten (its trades) report
    when they finish."""
    return [f"exit not filled: {describe(r)}" for r in working_exits(db, trade_ids)]
