"""What the kill switch does at the broker, through the order monitor's machinery.

Every cancel acts on the broker's final word (`cancel_orders`: cancel, read back, record
through the ledger); positions close through `flatten_trade`, written as an intent first,
for every share the broker holds on the trade's side of its symbol, and only for trades
written against the books' broker account (the caller's broker is account-guarded).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

from trading_monitor.db.connection import Row
from trading_monitor.db.queries import Queries
from trading_monitor.domain.lifecycle import (
    LIVE_ORDER_STATUSES,
    PENDING_SUBMIT,
    OrderRole,
    Purpose,
)
from trading_monitor.domain.order_status import NOT_SENT, OrderStatus
from trading_monitor.engine.account_guard import held_elsewhere, refusal, trades_held_elsewhere
from trading_monitor.engine.context import Monitor
from trading_monitor.engine.flatten import flatten_trade
from trading_monitor.engine.settle import cancel_orders, settle_trade
from trading_monitor.engine.state import LoadedTrade, load_trades, open_trades
from trading_monitor.engine.sync import sync_orders
from trading_monitor.exceptions import DatabaseUnavailable, FatalError

QUERIES = Queries(__name__)  # queries.sql beside this module

log = logging.getLogger(__name__)



@dataclass
class KillReport:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    flattened: list[str] = field(default_factory=list)
    entries_seen: int = 0

    def problem(self, text: str) -> None:
        self.problems.append(text)
        self.lines.append(f"PROBLEM {text}")


def cancel_entries(m: Monitor, report: KillReport) -> set[int]:
    """Cancel every live entry of ours; returns the trades whose entries were touched."""
    touched: set[int] = set()
    for row in m.db.execute_query(QUERIES["live_entries"], {"live": sorted(LIVE_ORDER_STATUSES)}):
        report.entries_seen += 1
        final = cancel_orders(m, [row])
        fresh = m.db.get_by_id("order_execution", row["id"]) or row
        what = f"entry {row['client_order_id']} ({row['symbol']}, trade " \
               f"#{row['trade_journal_id']})"
        if not final:
            report.problem(f"{what}: cancel not final ({fresh['order_status']}); run the kill "
                           "switch again")
        elif fresh["order_status"] == "filled":
            report.lines.append(f"{what}: filled before the cancel; the position stays")
        else:
            report.cancelled.append(row["client_order_id"])
            report.lines.append(f"cancelled {what}: {fresh['order_status']}")
        if row["trade_journal_id"] is not None:
            touched.add(int(row["trade_journal_id"]))
    for row in m.db.execute_query(QUERIES["unsent_entries"]):
        report.problem(f"entry intent {row['client_order_id']} ({row['symbol']}) was never "
                       "confirmed sent (pending_submit): check it at the broker")
    return touched


def settle(m: Monitor, ids: set[int], report: KillReport) -> None:
    """Book what the broker did (fills, final statuses) and settle these trades: a cancelled
    entry ends its trade; a partly filled one becomes a protected position."""
    if not ids:
        return
    sync_orders(m)
    for trade in load_trades(m.db, sorted(ids)):
        _guarded(report, trade, partial(settle_trade, m, trade))


def _guarded(report: KillReport, trade: LoadedTrade, work: Callable[[], list[str]]) -> None:
    try:
        report.lines += work()
    except (FatalError, DatabaseUnavailable):
        raise
    except Exception as exc:
        log.exception("trade #%s: kill switch action failed", trade.state.journal_id)
        report.problem(f"trade #{trade.state.journal_id}: {type(exc).__name__}: {exc}")


def live_protection(m: Monitor) -> list[Row]:
    """Our live stop and target orders (kept when the kill switch does not flatten)."""
    return m.db.execute_query(
        QUERIES["live_exit_legs"],
        {"live": sorted(LIVE_ORDER_STATUSES)})


def flatten_positions(m: Monitor, report: KillReport) -> None:
    """Close every open position of ours at market (its protection cancelled first)."""
    sync_orders(m)
    held = []
    for journal in trades_held_elsewhere(m.db):  # open_trades leaves them out (issue 27)
        report.problem(str(held_elsewhere(m.db, journal)))
    for trade in (t for t in open_trades(m) if t.state.position_qty > 0):
        # A trade written against another account (adopted since): the shares this account
        # holds in its symbol are not its shares. Never sold here.
        foreign = refusal(m.db, trade.journal)
        if foreign:
            report.problem(foreign)
        else:
            held.append(trade)
    for trade in held:
        _guarded(report, trade, partial(_flatten, m, trade))
    if not held:
        report.lines.append("no open position of ours to flatten")
        return
    sync_orders(m)
    for trade in load_trades(m.db, [t.state.journal_id for t in held]):
        if trade.state.position_qty <= 0:  # the exit filled: close the books on it
            _guarded(report, trade, partial(settle_trade, m, trade))
        report.flattened += _exit_state(trade, report)


def _flatten(m: Monitor, trade: LoadedTrade) -> list[str]:
    # The operator's last resort sizes the exit by what the broker holds, not our books (a
    # split the books never learnt, shares added by hand): flatten_trade cancels every order
    # holding the shares (a filled bracket's legs too) on the broker's final word, sells
    # them, and puts the stop back at once if the exit is refused.
    return flatten_trade(m, trade, Purpose.KILL_SWITCH, whole_position=True)


def _exit_state(trade: LoadedTrade, report: KillReport) -> list[str]:
    exits = [r for r in trade.orders if r["order_role"] == OrderRole.EXIT.value
             and r["purpose"] == Purpose.KILL_SWITCH.value]
    name = f"trade #{trade.state.journal_id} {trade.journal['symbol']}"
    if not exits:
        report.problem(f"{name}: no kill-switch exit was placed")
        return []
    last = exits[-1]
    status = OrderStatus(last["order_status"])
    if status.withdrawn or status in (NOT_SENT, PENDING_SUBMIT):
        report.problem(f"{name}: exit {last['client_order_id']} is {last['order_status']}: "
                       f"{last['broker_message'] or 'no message'}")
        return []
    if trade.state.position_qty > 0:
        report.lines.append(f"{name}: exit {last['client_order_id']} is "
                            f"{last['order_status']} at the broker (not filled yet)")
    return [name]


def broker_leftovers(m: Monitor) -> list[str]:
    """Positions still at the broker (an untracked one is not ours to close)."""
    return [f"{p.qty} {p.symbol}" for p in m.broker.get_positions() if p.qty != Decimal(0)]
