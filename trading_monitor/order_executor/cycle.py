"""One executor cycle: claim decisions in id order, carry each to its terminal state.

Each decision runs in its own savepoint inside its claim transaction: whatever goes wrong
with one decision rolls back only that decision's writes, ends it REJECTED (or deferred,
when the failure is temporary) with the reason, and the cycle goes on.

A cycle with `entries_at` (a woken one inside the session but before EXECUTOR_TIME) sends
no entry: it acts on CANCELs and on AMENDs' cancels only (the AMEND's replacement waits,
written, for the first cycle that may send); every other decision is left as it is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from trading_monitor.crashpoints import crash_point
from trading_monitor.db import pg
from trading_monitor.db.connection import Row
from trading_monitor.domain.decision import Action, Decision, DecisionInvalid, parse_decision
from trading_monitor.domain.lifecycle import OPEN_TRADE_STATUSES, TerminalState
from trading_monitor.exceptions import (
    BrokerContractError,
    DatabaseUnavailable,
    FatalError,
    RejectedError,
    TemporaryError,
)
from trading_monitor.ledger import Intent, load_intent
from trading_monitor.order_executor.cancel_amend import continue_amend, handle_amend, handle_cancel
from trading_monitor.order_executor.changed import settle_changed_decision
from trading_monitor.order_executor.context import (
    Deferred,
    Executor,
    Final,
    Previewed,
    Result,
    Waiting,
)
from trading_monitor.order_executor.expiry import expire_day_entries
from trading_monitor.order_executor.new_trade import handle_new_trade, resume_intent
from trading_monitor.order_executor.outcomes import defer_or_give_up, finish_decision

log = logging.getLogger(__name__)
# An AMEND's replacement written before EXECUTOR_TIME must still be fresh then, with room for
# the poll's 2 minutes.
AMEND_MARGIN = timedelta(minutes=5)


@dataclass
class CycleReport:
    outcomes: list[tuple[int, str, str, str]] = field(default_factory=list)
    broker_requests: int = 0
    expired: int = 0

    def add(self, row: Row, label: str, reason: str) -> None:
        self.outcomes.append((int(row["id"]), str(row.get("ticker") or ""), label, reason))

    def count(self, label: str) -> int:
        return sum(1 for o in self.outcomes if o[2] == label)

    @property
    def summary(self) -> dict[str, int]:
        labels = ("EXECUTED", "REJECTED", "SKIPPED", "DEFERRED", "DRY_RUN")
        return {label.lower(): self.count(label) for label in labels} | {
            "broker_requests": self.broker_requests}


def run_cycle(ex: Executor, *, entries_at: datetime | None = None) -> CycleReport:
    """`entries_at`: no entry before this time (see the module's text)."""
    report = CycleReport()
    start_requests = ex.broker.requests_sent
    if not ex.dry_run:
        report.expired = expire_day_entries(ex)
    claim = "peek_next_decision" if ex.dry_run else "claim_next_decision"
    after_id = 0
    while True:
        with ex.claims.transaction():
            rows = ex.claims.named(claim, {"after_id": after_id, "now": ex.now()})
            if not rows:
                break
            row = rows[0]
            after_id = int(row["id"])
            crash_point("after_claim")
            result = process_safely(ex, row, entries_at)
            if result is not None:  # None: left for a cycle that may send entries
                _settle(ex, row, result, report)
        if not ex.dry_run:
            crash_point("after_outcome")
    report.broker_requests = ex.broker.requests_sent - start_requests
    return report


def _settle(ex: Executor, row: Row, result: Result, report: CycleReport) -> None:
    if ex.dry_run:  # reported, never written
        report.add(row, "DRY_RUN", _preview_text(result))
        return
    if isinstance(result, Waiting):
        report.add(row, "WAITING", result.reason)
        log.info("decision #%s waits: %s", row["id"], result.reason)
        return
    if isinstance(result, Deferred):
        result = defer_or_give_up(ex.claims, ex, row, result)
    if isinstance(result, Final):
        finish_decision(ex.claims, ex, row, result)
        report.add(row, result.state.value, result.reason)
        log.info("decision #%s %s: %s", row["id"], result.state.value, result.reason)
    elif isinstance(result, Deferred):
        report.add(row, "DEFERRED", result.reason)
        log.warning("decision #%s deferred: %s", row["id"], result.reason)


def _preview_text(result: Result) -> str:
    if isinstance(result, Previewed | Waiting):
        return result.reason
    if isinstance(result, Final):
        return f"dry run: would end {result.state.value}: {result.reason}"
    return f"dry run: would defer: {result.reason}"


def process_safely(ex: Executor, row: Row, entries_at: datetime | None = None
                   ) -> Result | None:
    """The decision's work in a savepoint; any failure becomes this decision's result."""
    try:
        with ex.claims.savepoint("decision"):
            return process(ex, row, entries_at)
    except (FatalError, DatabaseUnavailable):
        raise
    except DecisionInvalid as exc:
        return Final(TerminalState.REJECTED, str(exc))
    except BrokerContractError as exc:
        return Deferred(str(exc), contract=True)
    except TemporaryError as exc:
        return Deferred(str(exc))
    except RejectedError as exc:
        return Final(TerminalState.REJECTED, str(exc))
    except pg.errors.TransactionRollbackError as exc:  # deadlock, serialization
        return Deferred(f"database asked to retry: {_first_line(exc)}")
    except pg.Error as exc:
        log.exception("decision #%s refused by the database", row["id"])
        text = f"database refused this decision's rows: {_first_line(exc)}"
        if load_intent(ex.claims, int(row["id"])) is not None:
            # An intent is committed (its order may be at the broker): never end the decision
            # on a guess. Resume settles it from the intent next cycle (MAX_DEFERRALS caps it).
            return Deferred(text)
        return Final(TerminalState.REJECTED, text)
    except Exception as exc:  # a bug must not lose the decision: keep it pending, say why
        log.exception("decision #%s hit an unexpected error", row["id"])
        return Deferred(f"internal error ({type(exc).__name__}): {exc}")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def process(ex: Executor, row: Row, entries_at: datetime | None = None) -> Result | None:
    done = ex.claims.named("outcome_for_decision", {"decision_id": row["id"]})
    if done:  # crashed after the outcome, before executed was set
        return Final(TerminalState(done[0]["terminal_state"]), done[0]["reason"])
    intent = load_intent(ex.claims, int(row["id"]))
    try:
        decision: Decision | None = parse_decision(row)
        problem = None
    except DecisionInvalid as exc:
        decision, problem = None, f"malformed decision: {exc}"
    if entries_at is not None:
        return _before_entries(ex, intent, decision, entries_at)
    if intent is not None:
        return _resume(ex, intent, decision, problem)
    if decision is None:
        return Final(TerminalState.REJECTED, str(problem))
    return _dispatch(ex, decision)


def _resume(ex: Executor, intent: Intent, d: Decision | None, problem: str | None) -> Result:
    """An intent exists: it, not the decision row as it reads now, says what was sent."""
    if d is None or d.primary_action.value != intent.action:
        now = problem or f"its action is now {d.primary_action.value if d else '?'}"
        return settle_changed_decision(ex, intent, now)
    if intent.action == Action.AMEND.value:
        return continue_amend(ex, intent)
    return resume_intent(ex, intent)


def _before_entries(ex: Executor, intent: Intent | None, d: Decision | None,
                    entries_at: datetime) -> Result | None:
    """Before EXECUTOR_TIME: a CANCEL, and an AMEND's cancel; None leaves the decision."""
    if d is None or d.primary_action not in (Action.CANCEL, Action.AMEND):
        return None
    if intent is not None and intent.action != d.primary_action.value:
        return None  # a changed decision: settled by the full cycle
    if d.primary_action is Action.CANCEL:
        return handle_cancel(ex, d) if intent is None else None
    limit = ex.config.max_unsent_delay
    if limit is not None and entries_at - ex.now() >= limit - AMEND_MARGIN:
        # Its replacement would wait past MAX_UNSENT_ORDER_MINUTES and be withdrawn as
        # stale at EXECUTOR_TIME: the whole AMEND waits instead, as without notifications.
        return None
    if intent is None:
        return handle_amend(ex, d, send=False)
    return continue_amend(ex, intent, send=False)


def _dispatch(ex: Executor, d: Decision) -> Result:
    if d.primary_action is Action.NEW_TRADE:
        return handle_new_trade(ex, d)
    if d.primary_action is Action.CANCEL:
        return handle_cancel(ex, d)
    if d.primary_action is Action.AMEND:
        return handle_amend(ex, d)
    return handle_no_action(ex, d)


def handle_no_action(ex: Executor, d: Decision) -> Result:
    """Mark executed and age the linked open trade by one day (in the claim transaction);
    SKIPPED when there is no open trade to age (nothing was done)."""
    if d.existing_trade_journal_id is not None:
        trade = ex.claims.get_by_id("trade_journal", d.existing_trade_journal_id)
        if trade is None:
            raise DecisionInvalid(f"trade_journal #{d.existing_trade_journal_id} does not exist")
    else:
        found = ex.claims.named("latest_open_trade_for_symbol", {"symbol": d.ticker})
        trade = found[0] if found else None
    if trade is None or trade["status"] not in OPEN_TRADE_STATUSES:
        return Final(TerminalState.SKIPPED, f"no action; no open trade for {d.ticker} to age")
    if ex.dry_run:
        return Previewed(f"dry run: would age trade #{trade['id']} by one day")
    days = ex.ledger.age_trade(int(trade["id"]))
    return Final(TerminalState.EXECUTED,
                 f"no action; trade #{trade['id']} now {days} day(s) open",
                 journal_id=trade["id"])
