"""NEW_TRADE: check, write the intent, send with a derived client order id, record.

Resume after a crash is a function of the stored entry status alone: only
`pending_submit` may reach submit (after a look-up by client order id); every other
state is settled by looking the order up, never by sending again.
"""

from __future__ import annotations

from trading_monitor.broker.models import BrokerOrder
from trading_monitor.crashpoints import crash_point
from trading_monitor.domain.decision import Decision
from trading_monitor.domain.lifecycle import NOT_SENT, PENDING_SUBMIT, TerminalState
from trading_monitor.engine.cancelling import follow_replacements
from trading_monitor.engine.symbol_halts import entry_deferral
from trading_monitor.exceptions import RejectedError, TemporaryError
from trading_monitor.ledger import Intent, order_request
from trading_monitor.order_executor.context import Deferred, Executor, Final, Previewed, Result
from trading_monitor.order_executor.preview import describe, entry_request

# Words in a broker refusal that mean "not as a bracket/OTO", not "not this trade".
BRACKET_REFUSAL_WORDS = ("bracket", "oto", "order_class", "order class", "complex order",
                         "take_profit", "stop_loss")


def handle_new_trade(ex: Executor, d: Decision) -> Result:
    """A decision with no intent yet: pre-trade checks, then intent, then submit."""
    late = ex.daytrade_too_late(d)
    if late:
        return Final(TerminalState.SKIPPED, late)
    d = ex.sized(d)
    halted = entry_deferral(ex.db, d.ticker)  # issue 21: no entry into a halted symbol
    if halted:
        return Deferred(halted)
    rejection = ex.stale_decision(d) or ex.entry_rejection(d)
    if rejection:
        return Final(TerminalState.REJECTED, f"pre-trade check failed: {rejection}")
    plan = ex.plan(d)
    if ex.dry_run:
        request = entry_request(ex.installation, d, plan)
        return Previewed(f"dry run: would submit {describe(request, plan)}")
    intent = ex.intents.write_intent(ex.installation, d, plan)
    crash_point("after_intent")
    ex.accept_entry(d.ticker, d.notional)
    return submit_intent(ex, intent, fresh=True)


def resume_intent(ex: Executor, intent: Intent) -> Result:
    """Settle an intent written by an earlier attempt, from its stored status."""
    entry = intent.entry
    coid = intent.client_order_id
    status = entry["order_status"]
    if status == NOT_SENT:
        return Final(TerminalState.SKIPPED,
                     f"order {coid} was withdrawn before it reached the broker: "
                     f"{entry['broker_message'] or 'no reason recorded'}",
                     journal_id=intent.journal_id, client_order_id=coid)
    if ex.dry_run:
        return Previewed(f"dry run: would settle {coid} ({status}) by looking it up")
    if status == PENDING_SUBMIT:
        return submit_intent(ex, intent, fresh=False)
    order = follow_replacements(ex.broker, ex.broker.get_order_by_client_id(coid))
    if order is not None:
        return settle_sent(ex, intent, order)
    if status == "rejected":  # refused on submit: no order exists there, none is resent
        reason = f"broker rejected the order: {entry['broker_message'] or 'no reason recorded'}"
        ex.ledger.close_intent(intent, reason, mark_as=None)
        return _rejected_final(intent, reason)
    return Deferred(f"{coid} is recorded as {status} but the broker does not find it; "
                    "looked up again next cycle")


def submit_intent(ex: Executor, intent: Intent, *, fresh: bool) -> Result:
    """Submit (or, after a crash, find) a pending_submit intent's order, then record it."""
    coid = intent.client_order_id
    try:
        # After a crash or an unclear result, look first: never resend blind.
        order = None if fresh else ex.broker.get_order_by_client_id(coid)
        if order is None:
            # An intent an earlier run never sent goes out only if it still may: not stale,
            # and no halt (a kill switch) set since it was written.
            stale = None if fresh else (ex.stale_intent(intent.entry) or _halted(ex))
            if stale:
                ex.ledger.close_intent(intent, stale, mark_as=NOT_SENT)
                return _rejected_final(intent, stale)
            order = ex.broker.submit_order(order_request(intent))
            crash_point("after_submit")
    except RejectedError as exc:
        if _bracket_refused(intent, exc):
            fallback = ex.intents.write_staged_fallback(ex.installation, intent, str(exc))
            return submit_intent(ex, fallback, fresh=True)
        reason = f"broker rejected the order: {exc}"
        ex.ledger.close_intent(intent, reason, mark_as="rejected")
        return _rejected_final(intent, reason)
    except TemporaryError as exc:
        ex.ledger.note_order(intent.entry, str(exc))
        return Deferred(f"submit of {coid} not settled, retried next cycle by client order id: "
                        f"{exc}")
    return settle_sent(ex, intent, follow_replacements(ex.broker, order) or order)


def settle_sent(ex: Executor, intent: Intent, order: BrokerOrder) -> Final:
    """The broker has the order: record it, move the trade, and end the decision."""
    ex.ledger.follow_entry(intent.journal_id, intent.entry, order)
    crash_point("after_record")
    if order.status == "rejected":
        return _rejected_final(intent, f"broker rejected order {order.id} after accepting it")
    text = intent.describe()
    return Final(TerminalState.EXECUTED, f"submitted {text}: broker order {order.id} is "
                 f"{order.status}", journal_id=intent.journal_id,
                 client_order_id=intent.client_order_id, set_order_id=order.id,
                 set_journal_id=intent.journal_id)


def _halted(ex: Executor) -> str | None:
    halt = ex.view().halted_reason
    return f"not sent: trading halted since the intent was written ({halt})" if halt else None


def _rejected_final(intent: Intent, reason: str) -> Final:
    return Final(TerminalState.REJECTED, reason, journal_id=intent.journal_id,
                 client_order_id=intent.client_order_id, set_journal_id=intent.journal_id)


def _bracket_refused(intent: Intent, exc: RejectedError) -> bool:
    """Seed 003: where the broker will not take a bracket for this order, fall back."""
    if intent.entry["order_class"] == "simple":
        return False
    text = str(exc).lower()
    return exc.status == 422 and any(word in text for word in BRACKET_REFUSAL_WORDS)
