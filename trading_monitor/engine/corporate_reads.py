"""Read-only questions about stored corporate actions (table `corporate_action`, written by
the position monitor's pre-open run): what blocks an entry today, and what `status` and the
daily report flag."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import date, timedelta

from trading_monitor.broker.base import Broker
from trading_monitor.db.connection import Row, TradingDB
from trading_monitor.db.queries import Queries
from trading_monitor.domain.corporate import BLOCKING, ENDING, from_row
from trading_monitor.exceptions import TemporaryError

QUERIES = Queries(__name__)

log = logging.getLogger(__name__)


def _rows(db: TradingDB, first: date, last: date) -> list[Row]:
    return db.execute_query(
        QUERIES["corporate_actions_of_kinds"], [first, last, list(BLOCKING)])


def _described(row: Row) -> str:
    return from_row(row).describe()


def actions_of(db: TradingDB, symbol: str, first: date, last: date) -> list[Row]:
    """The stored splits, symbol changes and ending actions of `symbol` (as the old or the
    new symbol) taking effect in [first, last], oldest first."""
    return [r for r in _rows(db, first, last) if symbol.upper() in (r["symbol"], r["new_symbol"])]


def entry_block(db: TradingDB, symbol: str, day: date) -> str | None:
    """Why a new entry into `symbol` must not go out on `day`: a split, a symbol change, a
    merger, a spin-off, a worthless removal or a redemption takes effect (dividends do not
    block)."""
    found = actions_of(db, symbol, day, day)
    if not found:
        return None
    return "corporate action today: " + "; ".join(_described(r) for r in found)


def flagged(db: TradingDB, first: date, last: date, symbols: set[str]) -> list[str]:
    """One line per stored action of a symbol in `symbols` taking effect in [first, last]:
    ending ones first (they end the position), then splits and symbol changes."""
    rows = [r for r in _rows(db, first, last) if r["symbol"] in symbols]
    rows.sort(key=lambda r: (r["kind"] not in ENDING, r["effective_date"]))
    return [("ENDS THE POSITION: " if r["kind"] in ENDING else "") + _described(r)
            for r in rows]


def open_trade_flags(db: TradingDB, day: date, days_ahead: int = 7) -> list[str]:
    """`flagged` for the symbols of our open trades (PENDING or POSITION), from `day` on:
    what `status` and the daily report show."""
    symbols = {str(r["symbol"]) for r in db.execute_query(
        QUERIES["open_trade_symbols"])}
    if not symbols:
        return []
    return flagged(db, day, day + timedelta(days=days_ahead), symbols)


def read_for_entry(db: TradingDB, broker: Broker, symbol: str, day: date, *,
                   waiting: Callable[[], set[str]], store: bool) -> None:
    """Make sure `symbol`'s actions of `day` are stored before an entry into it is checked:
    one request for it and every other symbol still `waiting` to enter that was not read
    today (the pre-open run reads the symbols we hold and the decisions waiting then). A
    broker that cannot answer is logged and the check goes on with what is stored."""
    key = f"corporate_actions_read:{day.isoformat()}"
    rows = db.named("system_value", {"key": key})
    done = set(json.loads(rows[0]["value"])) if rows and rows[0]["value"] else set()
    if symbol.upper() in done:
        return
    wanted = ({symbol.upper()} | {s.upper() for s in waiting()}) - done
    try:
        found = broker.corporate_actions(wanted, day, day)
    except TemporaryError as exc:
        log.warning("corporate actions of %s not read (%s): entries checked on what is "
                    "stored", ", ".join(sorted(wanted)), exc)
        return
    if not store:
        return
    for a in found:
        db.execute_query(
            QUERIES["corporate_action_store_read"],
            [a.id, a.kind, a.symbol, a.new_symbol, a.old_rate, a.new_rate, a.effective])
    db.named_update("set_system_value", {"key": key, "value": json.dumps(sorted(done | wanted)),
                                         "reason": "corporate actions read for entries"})
