"""CANCEL and AMEND: withdraw an unfilled entry; AMEND then places its replacement.

A fill always wins: if the entry filled before we could withdraw it, the position stays
(protected by its stop) and the outcome says so. No new order follows a failed withdrawal.
"""

from __future__ import annotations

from enum import Enum

from trading_monitor.broker.errors import NotFoundError
from trading_monitor.broker.models import BrokerOrder
from trading_monitor.db_layer import Row
from trading_monitor.domain.decision import Decision, DecisionInvalid
from trading_monitor.domain.lifecycle import (
    FINAL_ORDER_STATUSES,
    NOT_SENT,
    OrderRole,
    TerminalState,
)
from trading_monitor.exceptions import RejectedError
from trading_monitor.executor.books import (
    Intent,
    close_intent,
    load_intent,
    mark_orders,
    record_order,
    set_journal,
    write_intent,
)
from trading_monitor.executor.context import Executor, Final, Previewed, Result
from trading_monitor.executor.new_trade import send_intent

WITHDRAWN_STATUSES = FINAL_ORDER_STATUSES - {"filled"}


class Withdrawal(Enum):
    WITHDRAWN = "withdrawn"
    FILLED = "filled"
    PARTIAL = "partially filled"


def find_target(ex: Executor, d: Decision) -> tuple[Row, Row]:
    """The trade and its live entry order named by existing_trade_journal_id / existing_order_id."""
    if d.existing_trade_journal_id is not None:
        journal = ex.db.get_by_id("trade_journal", d.existing_trade_journal_id)
        if journal is None:
            raise DecisionInvalid(f"trade_journal #{d.existing_trade_journal_id} does not exist")
        entry = _live_entry(ex, journal["id"])
        if d.existing_order_id and d.existing_order_id not in (entry["alpaca_order_id"],
                                                               entry["client_order_id"]):
            raise DecisionInvalid(f"existing_order_id {d.existing_order_id} is not the entry of "
                                  f"trade #{journal['id']}")
        return journal, entry
    rows = ex.db.named("order_by_any_id", {"order_id": d.existing_order_id})
    if not rows:
        raise DecisionInvalid(f"no order {d.existing_order_id} in order_execution")
    journal = ex.db.get_by_id("trade_journal", rows[0]["trade_journal_id"])
    if journal is None:
        raise DecisionInvalid(f"order {d.existing_order_id} has no trade_journal row")
    return journal, _live_entry(ex, journal["id"])


def _live_entry(ex: Executor, journal_id: int) -> Row:
    entries = [r for r in ex.db.named("orders_for_journal", {"trade_journal_id": journal_id})
               if r["order_role"] == OrderRole.ENTRY.value]
    if not entries:
        raise DecisionInvalid(f"trade #{journal_id} has no entry order")
    return entries[-1]


def closed_trade_reason(journal: Row, action: str) -> str | None:
    status = journal["status"]
    if status == "POSITION":
        return (f"trade #{journal['id']}'s entry already filled; the position stays open, "
                f"protected by its stop loss. {action} only applies to unfilled entries")
    if status in ("CLOSED", "REJECTED", "CANCELLED"):
        return f"trade #{journal['id']} is {status}; there is no open entry to {action.lower()}"
    return None


def withdraw(ex: Executor, entry: Row, why: str) -> tuple[Withdrawal, BrokerOrder | None]:
    """Cancel the entry at the broker (idempotently) and record the broker's final word."""
    if entry["order_status"] in WITHDRAWN_STATUSES:
        return Withdrawal.WITHDRAWN, None
    if entry["alpaca_order_id"]:
        order = ex.broker.get_order(entry["alpaca_order_id"])
    else:
        order = ex.broker.get_order_by_client_id(entry["client_order_id"])
    if order is None:
        with ex.db.transaction():
            legs = ex.db.query("order_execution", {"parent_order_execution_id": entry["id"]})
            mark_orders(ex.db, ex.run_id, [entry, *legs], NOT_SENT, why)
        return Withdrawal.WITHDRAWN, None
    if order.status not in WITHDRAWN_STATUSES and order.status != "filled":
        try:
            ex.broker.cancel_order(order.id)
        except (NotFoundError, RejectedError):
            pass  # most likely filled meanwhile: the read below tells
        order = ex.broker.get_order(order.id) or order
    with ex.db.transaction():
        record_order(ex.db, ex.run_id, entry, order)
    if order.status == "filled":
        return Withdrawal.FILLED, order
    if order.filled_qty > 0:
        return Withdrawal.PARTIAL, order
    return Withdrawal.WITHDRAWN, order


def _fill_text(order: BrokerOrder | None) -> str:
    if order is None:
        return ""
    return f"{order.filled_qty} of {order.qty} @ {order.filled_avg_price}"


def handle_cancel(ex: Executor, d: Decision) -> Result:
    journal, entry = find_target(ex, d)
    if journal["status"] == "CANCELLED":
        return Final(TerminalState.SKIPPED, f"trade #{journal['id']} was already cancelled",
                     journal_id=journal["id"])
    closed = closed_trade_reason(journal, "CANCEL")
    if closed:
        return Final(TerminalState.REJECTED, closed, journal_id=journal["id"])
    if ex.dry_run:
        return Previewed(f"dry run: would cancel {entry['client_order_id']}")
    why = f"cancelled by decision #{d.decision_id}" + (f": {d.reasoning}" if d.reasoning else "")
    result, order = withdraw(ex, entry, why)
    coid = entry["client_order_id"]
    if result is Withdrawal.FILLED:
        return Final(TerminalState.REJECTED,
                     f"too late to cancel: entry {coid} filled {_fill_text(order)}; the position "
                     "stays open, protected by its stop loss", journal_id=journal["id"])
    if result is Withdrawal.PARTIAL:
        set_journal(ex.db, ex.run_id, journal["id"], "PENDING",
                    f"rest cancelled by decision #{d.decision_id}; {_fill_text(order)} filled")
        return Final(TerminalState.EXECUTED,
                     f"cancelled the unfilled rest of {coid}: {_fill_text(order)} filled and "
                     "stay as a position", journal_id=journal["id"])
    set_journal(ex.db, ex.run_id, journal["id"], "CANCELLED", why, closing=True)
    state = order.status if order is not None else "never reached the broker"
    return Final(TerminalState.EXECUTED, f"cancelled {coid} ({state})", journal_id=journal["id"],
                 client_order_id=coid)


def handle_amend(ex: Executor, d: Decision) -> Result:
    journal, old_entry = find_target(ex, d)
    intent = load_intent(ex.db, d.decision_id)
    fresh = intent is None
    if intent is None:
        problem = _amend_problem(ex, d, journal, old_entry)
        if problem:
            return Final(TerminalState.REJECTED, problem, journal_id=journal["id"])
        if ex.dry_run:
            return Previewed(f"dry run: would cancel {old_entry['client_order_id']} and place a "
                             f"new {d.side.value if d.side else ''} {d.order_quantity} "
                             f"{d.ticker} limit {d.entry_price}")
        intent = write_intent(ex.db, ex.run_id, ex.installation, d, ex.protection_mode,
                              replaces=old_entry)
    why = f"amended by decision #{d.decision_id}"
    result, order = withdraw(ex, old_entry, why)
    if result is not Withdrawal.WITHDRAWN:
        return _amend_too_late(ex, intent, old_entry, result, order)
    _link_chain(ex, journal, old_entry, intent, why)
    sent = send_intent(ex, intent, d, fresh=fresh)
    if isinstance(sent, Final):
        prefix = ("original order cancelled, but the new order was rejected; the trade has no "
                  "live order: " if sent.state is TerminalState.REJECTED
                  else f"amended: cancelled {old_entry['client_order_id']}; ")
        return Final(sent.state, prefix + sent.reason, journal_id=sent.journal_id,
                     client_order_id=sent.client_order_id, set_journal_id=sent.set_journal_id)
    return sent


def _amend_problem(ex: Executor, d: Decision, journal: Row, entry: Row) -> str | None:
    closed = closed_trade_reason(journal, "AMEND")
    if closed:
        return closed
    stale = ex.stale_decision(d)
    if stale:
        return f"{stale}; the original order stays as it was"
    if d.ticker != journal["symbol"]:
        return f"AMEND ticker {d.ticker} differs from trade #{journal['id']}'s {journal['symbol']}"
    old_notional = abs(entry["qty"] * (entry["limit_price"] or 0))
    rejection = ex.entry_rejection(d, replacing=(journal["symbol"], old_notional))
    if rejection:
        return f"amendment refused, the original order stays as it was: {rejection}"
    return None


def _amend_too_late(ex: Executor, intent: Intent, old_entry: Row, result: Withdrawal,
                    order: BrokerOrder | None) -> Final:
    reason = (f"original order {old_entry['client_order_id']} {result.value} "
              f"({_fill_text(order)}) before the amend; no new order placed and the position "
              "stays" + ("; its unfilled rest was cancelled" if result is Withdrawal.PARTIAL
                         else ""))
    close_intent(ex.db, ex.run_id, intent, reason, mark_as=NOT_SENT)
    return Final(TerminalState.REJECTED, reason, journal_id=intent.journal_id)


def _link_chain(ex: Executor, journal: Row, old_entry: Row, intent: Intent, why: str) -> None:
    with ex.db.transaction():
        if journal["status"] != "CANCELLED":
            set_journal(ex.db, ex.run_id, journal["id"], "CANCELLED",
                        f"{why}; replaced by trade #{intent.journal_id}", closing=True,
                        replaced_by_trade_journal_id=intent.journal_id)
        ex.db.update("order_execution", old_entry["id"], {
            "run_id": ex.run_id, "replaced_by_order_execution_id": intent.entry["id"]})
