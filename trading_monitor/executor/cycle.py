"""One executor cycle: claim decisions in id order, carry each to its terminal state."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import psycopg2

from trading_monitor.db_layer import Row
from trading_monitor.domain.decision import Action, Decision, DecisionInvalid, parse_decision
from trading_monitor.domain.lifecycle import OPEN_TRADE_STATUSES, TerminalState
from trading_monitor.exceptions import (
    DatabaseUnavailable,
    FatalError,
    RejectedError,
    TemporaryError,
)
from trading_monitor.executor.books import finish_decision
from trading_monitor.executor.cancel_amend import handle_amend, handle_cancel
from trading_monitor.executor.context import Deferred, Executor, Final, Previewed, Result
from trading_monitor.executor.new_trade import handle_new_trade
from trading_monitor.runs import log_event

log = logging.getLogger(__name__)


@dataclass
class CycleReport:
    outcomes: list[tuple[int, str, str, str]] = field(default_factory=list)
    broker_requests: int = 0

    def add(self, row: Row, label: str, reason: str) -> None:
        self.outcomes.append((int(row["id"]), str(row.get("ticker") or ""), label, reason))

    def count(self, label: str) -> int:
        return sum(1 for o in self.outcomes if o[2] == label)

    @property
    def summary(self) -> dict[str, int]:
        labels = ("EXECUTED", "REJECTED", "SKIPPED", "DEFERRED", "DRY_RUN")
        return {label.lower(): self.count(label) for label in labels} | {
            "broker_requests": self.broker_requests}


def run_cycle(ex: Executor) -> CycleReport:
    report = CycleReport()
    start_requests = ex.broker.requests_sent
    after_id = 0
    while True:
        with ex.claims.transaction():
            rows = ex.claims.named("claim_next_decision", {"after_id": after_id})
            if not rows:
                break
            row = rows[0]
            after_id = int(row["id"])
            result = process(ex, row)
            _settle(ex, row, result, report)
    report.broker_requests = ex.broker.requests_sent - start_requests
    return report


def _settle(ex: Executor, row: Row, result: Result, report: CycleReport) -> None:
    if isinstance(result, Final):
        finish_decision(ex.claims, ex.run_id, row, result.state, result.reason,
                        journal_id=result.journal_id, client_order_id=result.client_order_id,
                        set_order_id=result.set_order_id, set_journal_id=result.set_journal_id)
        report.add(row, result.state.value, result.reason)
        log.info("decision #%s %s: %s", row["id"], result.state.value, result.reason)
    elif isinstance(result, Deferred):
        log_event(ex.db, ex.run_id, "analysis_decision", row["id"], "deferred", result.reason)
        report.add(row, "DEFERRED", result.reason)
        log.warning("decision #%s deferred: %s", row["id"], result.reason)
    else:
        report.add(row, "DRY_RUN", result.reason)


def process(ex: Executor, row: Row) -> Result:
    """Everything a decision can meet ends here as a Result, except fatal and database errors."""
    done = ex.claims.named("outcome_for_decision", {"decision_id": row["id"]})
    if done:  # crashed after the outcome, before executed was set
        return Final(TerminalState(done[0]["terminal_state"]), done[0]["reason"])
    try:
        decision = parse_decision(row)
    except DecisionInvalid as exc:
        return Final(TerminalState.REJECTED, f"malformed decision: {exc}")
    try:
        return _dispatch(ex, decision)
    except DecisionInvalid as exc:
        return Final(TerminalState.REJECTED, str(exc))
    except (FatalError, DatabaseUnavailable, psycopg2.Error):
        raise
    except TemporaryError as exc:
        return Deferred(str(exc))
    except RejectedError as exc:
        return Final(TerminalState.REJECTED, str(exc))
    except Exception as exc:  # a bug must not lose the decision: keep it pending, say why
        log.exception("decision #%s hit an unexpected error", row["id"])
        return Deferred(f"internal error ({type(exc).__name__}): {exc}")


def _dispatch(ex: Executor, d: Decision) -> Result:
    if d.primary_action is Action.NEW_TRADE:
        return handle_new_trade(ex, d)
    if d.primary_action is Action.CANCEL:
        return handle_cancel(ex, d)
    if d.primary_action is Action.AMEND:
        return handle_amend(ex, d)
    return handle_no_action(ex, d)


def handle_no_action(ex: Executor, d: Decision) -> Result:
    """Mark executed and age the linked open trade by one day (in the claim transaction)."""
    if d.existing_trade_journal_id is not None:
        trade = ex.claims.get_by_id("trade_journal", d.existing_trade_journal_id)
        if trade is None:
            raise DecisionInvalid(f"trade_journal #{d.existing_trade_journal_id} does not exist")
    else:
        found = ex.claims.named("latest_open_trade_for_symbol", {"symbol": d.ticker})
        trade = found[0] if found else None
    if trade is None or trade["status"] not in OPEN_TRADE_STATUSES:
        return Final(TerminalState.EXECUTED, f"no action; no open trade for {d.ticker} to age")
    if ex.dry_run:
        return Previewed(f"dry run: would age trade #{trade['id']} by one day")
    aged = ex.claims.named("age_trade", {"trade_journal_id": trade["id"], "run_id": ex.run_id})
    return Final(TerminalState.EXECUTED,
                 f"no action; trade #{trade['id']} now {aged[0]['days_open']} day(s) open",
                 journal_id=trade["id"])
