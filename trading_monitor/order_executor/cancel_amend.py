"""CANCEL and AMEND: withdraw an unfilled entry; AMEND then places its replacement.

A fill always wins: if the entry filled before we could withdraw it, the position stays
(protected by its stop) and the outcome says so. The replacement of an AMEND goes out only
once the old entry is proven withdrawn, so one decision never has two live entries.
"""

from __future__ import annotations

from trading_monitor.crashpoints import crash_point
from trading_monitor.db.connection import Row
from trading_monitor.domain.decision import Decision, DecisionInvalid
from trading_monitor.domain.lifecycle import (
    NOT_SENT,
    PENDING_SUBMIT,
    OrderRole,
    TerminalState,
)
from trading_monitor.engine.account_guard import held_elsewhere
from trading_monitor.ledger import Intent
from trading_monitor.order_executor.context import (
    Deferred,
    Executor,
    Final,
    Previewed,
    Result,
    Waiting,
)
from trading_monitor.order_executor.new_trade import resume_intent, submit_intent
from trading_monitor.order_executor.preview import describe, entry_request
from trading_monitor.order_executor.withdraw import Withdrawal, withdraw


def find_target(ex: Executor, d: Decision) -> tuple[Row, Row]:
    """The trade and its live entry order named by existing_trade_journal_id / existing_order_id
    (never one held at another broker account than the books': issue 27)."""
    journal, entry = _target(ex, d)
    elsewhere = held_elsewhere(ex.claims, journal)
    if elsewhere:
        raise DecisionInvalid(elsewhere)
    return journal, entry


def _target(ex: Executor, d: Decision) -> tuple[Row, Row]:
    db = ex.claims
    if d.existing_trade_journal_id is not None:
        journal = db.get_by_id("trade_journal", d.existing_trade_journal_id)
        if journal is None:
            raise DecisionInvalid(f"trade_journal #{d.existing_trade_journal_id} does not exist")
        entry = _live_entry(ex, journal["id"])
        if d.existing_order_id and d.existing_order_id not in (entry["alpaca_order_id"],
                                                               entry["client_order_id"]):
            raise DecisionInvalid(f"existing_order_id {d.existing_order_id} is not the entry of "
                                  f"trade #{journal['id']}")
        return journal, entry
    rows = db.named("order_by_any_id", {"order_id": d.existing_order_id})
    if not rows:
        raise DecisionInvalid(f"no order {d.existing_order_id} in order_execution")
    journal = db.get_by_id("trade_journal", rows[0]["trade_journal_id"])
    if journal is None:
        raise DecisionInvalid(f"order {d.existing_order_id} has no trade_journal row")
    return journal, _live_entry(ex, journal["id"])


def _live_entry(ex: Executor, journal_id: int) -> Row:
    entries = [r for r in ex.claims.named("orders_for_journal", {"trade_journal_id": journal_id})
               if r["order_role"] == OrderRole.ENTRY.value]
    if not entries:
        raise DecisionInvalid(f"trade #{journal_id} has no entry order")
    return entries[-1]


def replaced_by(ex: Executor, entry: Row, decision_id: int) -> str | None:
    """Why an entry is no longer the one to act on: another decision's AMEND replaces it."""
    rows = ex.claims.named("amendments_of_entry", {"entry_id": entry["id"],
                                                   "decision_id": decision_id})
    if not rows:
        return None
    first = rows[0]
    return (f"trade #{entry['trade_journal_id']} is already amended by decision "
            f"#{first['analysis_decision_id']} (new entry {first['client_order_id']}, "
            f"{first['order_status']}, trade #{first['trade_journal_id']})")


def closed_trade_reason(journal: Row, action: str) -> str | None:
    status = journal["status"]
    if status == "POSITION":
        return (f"trade #{journal['id']}'s entry already filled; the position stays open, "
                f"protected by its stop loss. {action} only applies to unfilled entries")
    if status in ("CLOSED", "REJECTED", "CANCELLED", "EXPIRED"):
        return f"trade #{journal['id']} is {status}; there is no open entry to {action.lower()}"
    return None


def handle_cancel(ex: Executor, d: Decision) -> Result:
    journal, entry = find_target(ex, d)
    if journal["status"] == "CANCELLED":
        return Final(TerminalState.SKIPPED, f"trade #{journal['id']} was already cancelled",
                     journal_id=journal["id"])
    closed = closed_trade_reason(journal, "CANCEL")
    if closed:
        return Final(TerminalState.REJECTED, closed, journal_id=journal["id"])
    replaced = replaced_by(ex, entry, d.decision_id)
    if replaced:
        return Final(TerminalState.REJECTED, f"{replaced}; CANCEL that trade instead",
                     journal_id=journal["id"])
    coid = entry["client_order_id"]
    if ex.dry_run:
        return Previewed(f"dry run: would cancel {coid}")
    why = f"cancelled by decision #{d.decision_id}" + (f": {d.reasoning}" if d.reasoning else "")
    w = withdraw(ex, entry, why)
    if w.outcome is Withdrawal.UNSETTLED:
        return Deferred(f"cancel of {coid} is not final: {w.detail}; looked at again next cycle")
    if w.outcome is Withdrawal.FILLED:
        return Final(TerminalState.REJECTED,
                     f"too late to cancel: entry {coid} filled {w.fill_text}; the position "
                     "stays open, protected by its stop loss", journal_id=journal["id"])
    if w.outcome is Withdrawal.PARTIAL:
        return Final(TerminalState.EXECUTED,
                     f"cancelled the unfilled rest of {coid}: {w.fill_text} filled and stay "
                     f"as a position (trade #{journal['id']})", journal_id=journal["id"],
                     client_order_id=coid)
    return Final(TerminalState.EXECUTED, f"cancelled {coid} ({w.detail})",
                 journal_id=journal["id"], client_order_id=coid)


def handle_amend(ex: Executor, d: Decision, *, send: bool = True) -> Result:
    """An AMEND with no intent yet: check, write the replacement intent, then go on.
    `send=False` (a woken cycle before EXECUTOR_TIME): only the old entry is withdrawn."""
    journal, old_entry = find_target(ex, d)
    d = ex.sized(d)
    problem = _amend_problem(ex, d, journal, old_entry)
    if problem:
        return Final(TerminalState.REJECTED, problem, journal_id=journal["id"])
    plan = ex.plan(d)
    if ex.dry_run:
        return Previewed(f"dry run: would cancel {old_entry['client_order_id']} and submit "
                         f"{describe(entry_request(ex.installation, d, plan), plan)}")
    intent = ex.intents.write_intent(ex.installation, d, plan, replaces=old_entry)
    crash_point("after_intent")
    return continue_amend(ex, intent, fresh=True, send=send)


def continue_amend(ex: Executor, intent: Intent, *, fresh: bool = False,
                   send: bool = True) -> Result:
    """Withdraw the old entry; only its final withdrawal lets the replacement go out (and
    only with `send`: otherwise it waits, written, for the first cycle that may send)."""
    if intent.entry["order_status"] != PENDING_SUBMIT:
        return resume_intent(ex, intent)  # sent (or withdrawn) by an earlier attempt
    if ex.dry_run:
        return Previewed(f"dry run: would go on with the amend {intent.client_order_id}")
    old_entry = ex.claims.get_by_id("order_execution", intent.replaces_entry_id or 0)
    if old_entry is None:
        raise DecisionInvalid(f"amended order #{intent.replaces_entry_id} is gone")
    w = withdraw(ex, old_entry, f"amended by decision #{intent.decision_id}; replaced by "
                                f"trade #{intent.journal_id}")
    if w.outcome is Withdrawal.UNSETTLED:
        return Deferred(f"amend waits for the old entry {old_entry['client_order_id']}: "
                        f"{w.detail}; the new order is not sent while the old one may fill")
    if w.outcome is not Withdrawal.WITHDRAWN:
        return _amend_too_late(ex, intent, old_entry, w.outcome, w.fill_text)
    ex.ledger.link_replacement(old_entry, intent.entry)
    if not send:
        return Waiting(f"amend: cancelled {old_entry['client_order_id']}; the new entry "
                       f"{intent.client_order_id} waits for EXECUTOR_TIME")
    sent = submit_intent(ex, intent, fresh=fresh)
    if isinstance(sent, Final):
        prefix = ("original order cancelled, but the new order was rejected; the trade has no "
                  "live order: " if sent.state is TerminalState.REJECTED
                  else f"amended: cancelled {old_entry['client_order_id']}; ")
        return Final(sent.state, prefix + sent.reason, journal_id=sent.journal_id,
                     client_order_id=sent.client_order_id, set_order_id=sent.set_order_id,
                     set_journal_id=sent.set_journal_id)
    return sent


def _amend_problem(ex: Executor, d: Decision, journal: Row, entry: Row) -> str | None:
    closed = closed_trade_reason(journal, "AMEND")
    if closed:
        return closed
    replaced = replaced_by(ex, entry, d.decision_id)
    if replaced:
        # Two replacements of one entry would both go out once its cancel is final.
        return f"{replaced}; this AMEND is not applied: write it against that trade"
    if entry["order_status"] == PENDING_SUBMIT and entry["replaces_order_execution_id"]:
        # Withdrawing an unsent replacement is instant, but the entry it waits to replace
        # may still be live (a pending cancel): sending ours now would make two.
        return (f"trade #{journal['id']} is decision #{entry['analysis_decision_id']}'s "
                "amendment, not sent yet: it waits for the old entry's cancel to be final; "
                "this AMEND is not applied: write it again once that order is placed")
    stale = ex.stale_decision(d) or ex.daytrade_too_late(d)
    if stale:
        return f"{stale}; the original order stays as it was"
    if d.ticker != journal["symbol"]:
        return f"AMEND ticker {d.ticker} differs from trade #{journal['id']}'s {journal['symbol']}"
    old_notional = abs(entry["qty"] * (entry["limit_price"] or 0))
    rejection = ex.entry_rejection(d, replacing=(journal["symbol"], old_notional))
    if rejection:
        return f"amendment refused, the original order stays as it was: {rejection}"
    return None


def _amend_too_late(ex: Executor, intent: Intent, old_entry: Row, outcome: Withdrawal,
                    fill_text: str) -> Final:
    reason = (f"original order {old_entry['client_order_id']} {outcome.value} "
              f"({fill_text}) before the amend; no new order placed and the position "
              "stays" + ("; its unfilled rest was cancelled" if outcome is Withdrawal.PARTIAL
                         else ""))
    ex.ledger.close_intent(intent, reason, mark_as=NOT_SENT)
    return Final(TerminalState.REJECTED, reason, journal_id=intent.journal_id)


