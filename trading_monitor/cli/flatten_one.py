"""Close one trade's position at market now, keeping its protection until the exit is
accepted: `trading-monitor flatten TRADE_ID --reason TEXT`, and the cockpit's button.

    result = flatten_one(settings, db, broker, now, trade_id, reason, source)

- `settings`: the loaded Settings (broker keys needed); `db`: a connected TradingDB (not
  read-only); `broker`: the Broker (AlpacaBroker on the same settings); `now`: the job clock
  (`trading_monitor.clock.job_clock`); `trade_id`: trade_journal.id; `reason`: free text,
  required; `source`: who asked, e.g. "cli:alice" or "web:127.0.0.1" (written to event_log).
- It acts at once, not at the next cycle, under the same advisory locks as the kill switch
  (the executor's and the monitors'; a running cycle finishes first, none starts meanwhile;
  the stream listener waits too).
- The order: book what the broker did (sync); cancel what holds the shares, the stop last and
  only once the rest is final, on the broker's final word; then the market exit. A refused
  exit puts the stop back at once (GTC), with an ALERT; an exit that does not fill within
  CANCEL_SETTLE_SECONDS is withdrawn on the broker's final word and the stop goes back.
- Refused before anything is sent: a trade that is not an open position, or a closed market
  (a market exit would wait for the open with no stop in front of it).
- event_log: `flatten_requested` before it acts, `flatten` with the outcome, both carrying
  `source` and `reason` in `detail`.

The exit is an order of purpose MANUAL (migration 0019), so the trade it closes is booked
exit_reason_code MANUAL: the trader's own close, not a target reached; the event_log rows
say who and why.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from trading_monitor.broker.base import Broker
from trading_monitor.clock import Clock
from trading_monitor.db.connection import Row, TradingDB
from trading_monitor.db.locks import hold_lock
from trading_monitor.domain.lifecycle import (
    PENDING_SUBMIT,
    WITHDRAWN_ORDER_STATUSES,
    OrderRole,
    Purpose,
)
from trading_monitor.domain.order_status import NOT_SENT
from trading_monitor.engine.account_guard import refusal
from trading_monitor.engine.context import Monitor, monitor_settings
from trading_monitor.engine.flatten import _rested, flatten_trade
from trading_monitor.engine.job_locks import EXECUTOR_LOCK_KEY, ORDER_MONITOR_LOCK_KEY
from trading_monitor.engine.protect import follow_exit
from trading_monitor.engine.settle import settle_trade
from trading_monitor.engine.state import load_trades
from trading_monitor.engine.sync import sync_orders
from trading_monitor.ledger.installation import installation_id
from trading_monitor.ledger.runs import log_event, new_run_id
from trading_monitor.settings.config import Settings

PURPOSE = Purpose.MANUAL
# Outcomes. CLOSED: the exit filled and the trade is closed in the books.
CLOSED, NOT_OPEN, MARKET_CLOSED = "closed", "not_open", "market_closed"
WAITING = "waiting"  # a cancel not final yet: nothing sold, the stop as the broker has it
REFUSED = "refused"  # the exit was refused: the stop is back
NOT_FILLED = "not_filled"  # the exit did not fill in time: withdrawn, the stop is back
# Nothing sent: the trade was written against another broker account than the books' (held
# there since `reconcile --adopt-account`), or the keys lead to another account (issue 27).
OTHER_ACCOUNT = "other_account"
DONE = frozenset({CLOSED})


@dataclass
class FlattenResult:
    trade_id: int
    symbol: str | None
    status: str
    lines: list[str] = field(default_factory=list)
    exit_client_order_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in DONE


@contextmanager
def job_locks(db: TradingDB, settings: Settings, sleep: Callable[[float], None]
              ) -> Iterator[None]:
    """The kill switch's locks: the executor's and the monitors'."""
    wait = settings.executor_lock_wait_seconds
    with hold_lock(db, EXECUTOR_LOCK_KEY, "order executor", wait, sleep), \
            hold_lock(db, ORDER_MONITOR_LOCK_KEY, "order or position monitor", wait, sleep):
        yield


def flatten_one(settings: Settings, db: TradingDB, broker: Broker, now: Clock, trade_id: int,
                reason: str, source: str, *, sleep: Callable[[float], None] = time.sleep
                ) -> FlattenResult:
    """Close trade `trade_id` at market now (see the module's docstring)."""
    if not reason.strip():
        raise ValueError("a reason is required")
    run_id = new_run_id("flatten")
    journal = db.get_by_id("trade_journal", trade_id)
    if journal is None or journal["status"] != "POSITION":
        what = "not found" if journal is None else f"{journal['status']}, not an open position"
        return FlattenResult(trade_id, None if journal is None else str(journal["symbol"]),
                             NOT_OPEN,
                             [f"trade #{trade_id} is {what}: nothing done"])
    symbol = str(journal["symbol"])
    name = f"trade #{trade_id} {symbol}"
    foreign = refusal(db, journal)
    if foreign:
        return FlattenResult(trade_id, symbol, OTHER_ACCOUNT, [f"{foreign}: nothing done"])
    if not broker.get_clock().is_open:
        return FlattenResult(trade_id, symbol, MARKET_CLOSED, [
            f"{name}: the market is closed; a market exit would wait for the open with no "
            "stop in front of it. Nothing done: run it in the session"])
    detail = {"source": source, "reason": reason}
    log_event(db, run_id, "trade_journal", trade_id, "flatten_requested",
              f"flatten {name} requested by {source}: {reason}", detail=detail)
    with job_locks(db, settings, sleep):
        m = Monitor(db=db, broker=broker, run_id=run_id, installation=installation_id(db),
                    config=monitor_settings(settings), now=now, sleep=sleep)
        result = _flatten(m, trade_id, name)
    result.symbol = symbol
    log_event(db, run_id, "trade_journal", trade_id, "flatten",
              f"flatten {name} by {source}: {result.status}", to_status=result.status,
              detail={**detail, "lines": result.lines, "exit": result.exit_client_order_id})
    return result


def _flatten(m: Monitor, trade_id: int, name: str) -> FlattenResult:
    sync_orders(m)  # the broker's word first: a stop that filled meanwhile closes the trade
    [trade] = load_trades(m.db, [trade_id])
    if trade.state.position_qty <= 0:
        lines = settle_trade(m, trade)
        return FlattenResult(trade_id, None, _closed_or(m, trade_id, NOT_OPEN),
                             lines or [f"{name}: no shares held"])
    lines = flatten_trade(m, trade, PURPOSE)
    row = _exit_row(m, trade_id)
    if row is None:
        return FlattenResult(trade_id, None, WAITING, lines or [f"{name}: nothing sent"])
    result = FlattenResult(trade_id, None, REFUSED, lines, row["client_order_id"])
    if row["order_status"] in WITHDRAWN_ORDER_STATUSES | {NOT_SENT, PENDING_SUBMIT}:
        return result  # flatten_trade put the stop back
    order = follow_exit(m, row)
    if order is not None and order.status == "filled":
        sync_orders(m)
        [fresh] = load_trades(m.db, [trade_id])
        result.lines += settle_trade(m, fresh)
        result.status = _closed_or(m, trade_id, WAITING)
        return result
    [fresh] = load_trades(m.db, [trade_id])
    result.lines += _rested(m, fresh, [fresh.order_row(int(row["id"]))], name)
    result.status = NOT_FILLED
    return result


def _exit_row(m: Monitor, trade_id: int) -> Row | None:
    rows = [r for r in m.db.query("order_execution", {"trade_journal_id": trade_id})
            if r["order_role"] == OrderRole.EXIT.value and r["purpose"] == PURPOSE.value]
    return max(rows, key=lambda r: r["id"]) if rows else None


def _closed_or(m: Monitor, trade_id: int, otherwise: str) -> str:
    journal = m.db.get_by_id("trade_journal", trade_id)
    return CLOSED if journal is not None and journal["status"] == "CLOSED" else otherwise
