"""A decision's outcome: the one terminal state, or a deferral that is counted and capped."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from trading_monitor.db.connection import Row, TradingDB
from trading_monitor.domain.lifecycle import TerminalState
from trading_monitor.exceptions import TradingMonitorError
from trading_monitor.ledger.alerts import alert
from trading_monitor.ledger.runs import log_event
from trading_monitor.order_executor.context import Deferred, Executor, Final

log = logging.getLogger(__name__)


def finish_decision(db: TradingDB, ex: Executor, row: Row, result: Final) -> None:
    """The one terminal state (kept if one exists) and executed = true; in the claim
    transaction, together with everything the decision changed."""
    db.named("insert_outcome", {
        "run_id": ex.run_id, "decision_id": row["id"],
        "primary_action": row.get("primary_action"), "ticker": row.get("ticker"),
        "terminal_state": result.state.value, "reason": result.reason[:2000],
        "trade_journal_id": result.journal_id, "client_order_id": result.client_order_id,
    })
    db.named_update("mark_decision_executed", {
        "decision_id": row["id"], "existing_order_id": result.set_order_id,
        "existing_trade_journal_id": result.set_journal_id, "now": ex.now(),
    })
    log_event(db, ex.run_id, "analysis_decision", row["id"], "terminal", result.reason,
              to_status=result.state.value)


def defer_or_give_up(db: TradingDB, ex: Executor, row: Row, result: Deferred
                     ) -> Deferred | Final:
    """Record the deferral; past MAX_DEFERRALS the decision ends REJECTED with the history
    of its reasons, so nothing waits silently forever."""
    if result.contract:
        return _defer_for_contract(db, ex, row, result)
    earlier = [r["message"] for r in db.named("deferrals_of_decision",
                                              {"decision_id": row["id"]})]
    if len(earlier) + 1 < ex.config.max_deferrals:
        log_event(db, ex.run_id, "analysis_decision", row["id"], "deferred", result.reason)
        return result
    history = _history([*earlier, result.reason])
    alert(log, "decision_deferred", f"decision #{row['id']}",
          "decision #%s deferred %d times; rejected: %s", row["id"], len(earlier) + 1,
          result.reason)
    return Final(TerminalState.REJECTED,
                 f"gave up after {len(earlier) + 1} deferrals (MAX_DEFERRALS="
                 f"{ex.config.max_deferrals}); reasons: {history}")


def _defer_for_contract(db: TradingDB, ex: Executor, row: Row, result: Deferred
                        ) -> Deferred | Final:
    """Deferred while the broker's answers break our contract (alerted at once by the
    adapter); SKIPPED, naming the endpoint and field, once its entry's session is over."""
    first = db.named("first_contract_deferral", {"decision_id": row["id"]})
    close = _session_close(first[0]["detail"]) if first else _next_close(ex)
    if close is not None and ex.now() >= close:
        return Final(TerminalState.SKIPPED,
                     f"not sent: the broker's answers broke our contract until its entry's "
                     f"session closed at {close.isoformat()}: {result.reason}")
    log_event(db, ex.run_id, "analysis_decision", row["id"], "deferred_contract",
              result.reason, detail={"session_close": close.isoformat() if close else None})
    return result


def _session_close(detail: Any) -> datetime | None:
    text = detail.get("session_close") if isinstance(detail, dict) else None
    return datetime.fromisoformat(text) if text else None


def _next_close(ex: Executor) -> datetime | None:
    try:
        return ex.view().session_close
    except TradingMonitorError:  # the very read that is broken: no close to wait for yet
        return None


def _history(reasons: list[str]) -> str:
    """Each distinct reason once, with how often it came, oldest first."""
    counts: dict[str, int] = {}
    for reason in reasons:
        counts[reason] = counts.get(reason, 0) + 1
    return " | ".join(f"{text} (x{n})" if n > 1 else text for text, n in counts.items())
