"""NEW_TRADE: check, write the intent, send with a derived client order id, record."""

from __future__ import annotations

from trading_monitor.domain.decision import Decision
from trading_monitor.domain.lifecycle import NOT_SENT, PENDING_SUBMIT, TerminalState
from trading_monitor.exceptions import RejectedError, TemporaryError
from trading_monitor.executor.books import (
    Intent,
    close_intent,
    describe,
    load_intent,
    note_pending,
    order_class_for,
    order_request,
    record_order,
    write_intent,
)
from trading_monitor.executor.context import Deferred, Executor, Final, Previewed, Result
from trading_monitor.runs import log_event


def handle_new_trade(ex: Executor, d: Decision) -> Result:
    intent = load_intent(ex.db, d.decision_id)
    fresh = intent is None
    if intent is None:
        rejection = ex.stale_decision(d) or ex.entry_rejection(d)
        if rejection:
            return Final(TerminalState.REJECTED, f"pre-trade check failed: {rejection}")
        if ex.dry_run:
            return preview(ex, d)
        intent = write_intent(ex.db, ex.run_id, ex.installation, d, ex.protection_mode)
        ex.accept_entry(d.ticker, d.notional)
    return send_intent(ex, intent, d, fresh=fresh)


def preview(ex: Executor, d: Decision) -> Previewed:
    text = f"dry run: would submit {describe(d, order_class_for(d, ex.protection_mode))}"
    log_event(ex.db, ex.run_id, "analysis_decision", d.decision_id, "dry_run", text)
    return Previewed(text)


def send_intent(ex: Executor, intent: Intent, d: Decision, *, fresh: bool) -> Result:
    """Submit (or, after a crash, find) the intent's order, then record what the broker says."""
    entry = intent.entry
    coid = intent.client_order_id
    if entry["order_status"] == NOT_SENT:
        return Final(TerminalState.SKIPPED,
                     f"order {coid} was withdrawn before it reached the broker: "
                     f"{entry['broker_message'] or 'no reason recorded'}",
                     journal_id=intent.journal_id, client_order_id=coid)
    if entry["order_status"] != PENDING_SUBMIT and entry["alpaca_order_id"]:
        return _executed(intent, d, entry["alpaca_order_id"], entry["order_status"])
    try:
        # After a crash or an unclear result, look first: never resend blind.
        order = None if fresh else ex.broker.get_order_by_client_id(coid)
        if order is None:
            stale = None if fresh else ex.stale_intent(entry["created_at"])
            if stale:
                return _rejected(ex, intent, stale, mark_as=NOT_SENT)
            order = ex.broker.submit_order(order_request(intent))
    except RejectedError as exc:
        return _rejected(ex, intent, f"broker rejected the order: {exc}")
    except TemporaryError as exc:
        note_pending(ex.db, ex.run_id, entry, str(exc))
        return Deferred(f"submit of {coid} not settled, retried next cycle by client order id: "
                        f"{exc}")
    with ex.db.transaction():
        record_order(ex.db, ex.run_id, entry, order)
    if order.status == "rejected":
        return _rejected(ex, intent, f"broker rejected order {order.id} after accepting it",
                         mark_as=None)
    return _executed(intent, d, order.id, order.status)


def _executed(intent: Intent, d: Decision, order_id: str, status: str) -> Final:
    text = describe(d, str(intent.entry["order_class"]))
    return Final(TerminalState.EXECUTED, f"submitted {text}: broker order {order_id} is {status}",
                 journal_id=intent.journal_id, client_order_id=intent.client_order_id,
                 set_order_id=order_id, set_journal_id=intent.journal_id)


def _rejected(ex: Executor, intent: Intent, reason: str, mark_as: str | None = "rejected"
              ) -> Final:
    close_intent(ex.db, ex.run_id, intent, reason, mark_as)
    return Final(TerminalState.REJECTED, reason, journal_id=intent.journal_id,
                 client_order_id=intent.client_order_id, set_journal_id=intent.journal_id)
