"""A decision row edited after its intent was written.

The intent's rows say what was sent; the edited row cannot be carried out as well. The
decision ends REJECTED with the reason, and the order it already produced is never
orphaned: one that reached the broker stays tracked as its trade, one that did not is
withdrawn before it can be sent.
"""

from __future__ import annotations

from trading_monitor.domain.lifecycle import NOT_SENT, PENDING_SUBMIT, TerminalState
from trading_monitor.engine.cancelling import follow_replacements
from trading_monitor.ledger import Intent
from trading_monitor.order_executor.context import Executor, Final, Previewed, Result


def settle_changed_decision(ex: Executor, intent: Intent, change: str) -> Result:
    coid = intent.client_order_id
    head = (f"decision #{intent.decision_id} was changed after its {intent.action} intent "
            f"{coid} ({intent.describe()}) was written: {change}")
    if ex.dry_run:
        return Previewed(f"dry run: would reject: {head}")
    status = intent.entry["order_status"]
    if status == NOT_SENT:
        return _rejected(intent, f"{head}; that order was never sent")
    order = follow_replacements(ex.broker, ex.broker.get_order_by_client_id(coid))
    if order is None and status == PENDING_SUBMIT:
        reason = f"{head}; the order never reached the broker and is withdrawn"
        ex.ledger.close_intent(intent, reason, mark_as=NOT_SENT)
        return _rejected(intent, reason)
    if order is not None:
        ex.ledger.follow_entry(intent.journal_id, intent.entry, order)
        where = f"is {order.status} at the broker (order {order.id})"
    else:
        where = f"is recorded as {status}"
    return _rejected(intent, f"{head}; the order {where} and stays tracked as trade "
                             f"#{intent.journal_id} (write a CANCEL for that trade to withdraw "
                             "it)")


def _rejected(intent: Intent, reason: str) -> Final:
    return Final(TerminalState.REJECTED, reason, journal_id=intent.journal_id,
                 client_order_id=intent.client_order_id, set_journal_id=intent.journal_id)
