"""The alert vocabulary: every kind there is, and `alert()`, which raises one as an ERROR log
record carrying its kind and subject (the rate limit's key). Pure: delivery (apprise, the
`alert` table, the rate limit) is the ledger's `alerts` module, installed by the daemon as a
logging handler; any layer may raise an alert, the broker adapter included.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class AlertKind:
    what: str  # when it is raised, and what its subject is
    rate_limited: bool = True  # False: every one is sent (each is news, and rare by design)


# Every kind there is; tests/integration/test_alert_kinds.py pins this table.
KINDS: dict[str, AlertKind] = {
    "unprotected": AlertKind("a position without a live stop for its quantity; subject: trade"),
    "emergency_flatten": AlertKind("protection was refused, so the position is closed at "
                                   "market; subject: trade"),
    "exit_failed": AlertKind("an exit did not fill and the stop was put back; subject: "
                             "trade"),
    "order_not_placed": AlertKind("a protective or exit order not placed yet (retried next "
                                  "cycle); subject: trade"),
    "untracked_position": AlertKind("a position no trade of ours explains, adopted; subject: "
                                    "symbol"),
    "decision_deferred": AlertKind("a decision rejected after MAX_DEFERRALS deferrals; "
                                   "subject: decision"),
    "halt": AlertKind("new entries halted (loss, drawdown, reconciliation); subject: the halt",
                      rate_limited=False),
    "fatal": AlertKind("a fatal error paused the trading jobs; subject: job",
                       rate_limited=False),
    "job_failing": AlertKind("a job failed several times in a row; subject: job"),
    "job_deadline": AlertKind("a job ran past JOB_DEADLINE_SECONDS; subject: job"),
    "leadership_lost": AlertKind("this daemon lost the leader lock; subject: host and pid"),
    "leader_stale": AlertKind("a standby sees the leader's heartbeat stale; subject: host and "
                              "pid"),
    "startup_reconciliation": AlertKind("the new leader's first reconciliation failed"),
    "broker_contract": AlertKind("the broker's answer lacks a field we need (broker/"
                                 "contract.py); subject: endpoint and field"),
    "broker_unknown_value": AlertKind("the broker sent an order status we do not know "
                                      "(broker/known.py); subject: field and value"),
    "account_mismatch": AlertKind("the broker account is not the one the books were written "
                                  "against; every job refuses; subject: the two ids"),
    "reconciliation_incident": AlertKind("many of our trades gone at the broker at once, or "
                                         "its positions contradicted; nothing booked; subject: "
                                         "the incident", rate_limited=False),
    "corporate_action": AlertKind("a merger, spin-off, worthless removal or redemption of a "
                                  "symbol we hold or work in, the trading day before; "
                                  "subject: symbol and action id"),
    "operator": AlertKind("an operator command changed what trading does (resume cleared a "
                          "halt, approve-exit); subject: the command and what it acted on",
                          rate_limited=False),
    "exit_working": AlertKind("a market exit of ours still working after "
                              "EXIT_WORKING_ALERT_SECONDS; subject: trade"),
    "resting_stop": AlertKind("a stop-limit of ours triggered and rests unfilled past its "
                              "limit (a gap): no protection; subject: trade"),
    "symbol_halt": AlertKind("a symbol we hold printed no trade for HALT_SUSPECT_MINUTES in "
                             "the session: halted?; subject: symbol"),
}
SUBJECT_LIMIT = 200  # the stored key is "kind:subject", kept short for the alert table
_REFERENCE = re.compile(r"\b(?:trade|decision) #\d+")


def alert(logger: logging.Logger, kind: str, subject: object, message: str,
          *args: object) -> None:
    """Log an ALERT of a known kind about one subject (the rate limit's key with the kind)."""
    if kind not in KINDS:
        raise ValueError(f"unknown alert kind {kind!r}: add it to "
                         "trading_monitor.domain.alert_kinds.KINDS")
    logger.error("ALERT " + message, *args,
                 extra={"alert_kind": kind, "alert_subject": str(subject or "")})


def key_of(record: logging.LogRecord) -> tuple[str, str]:
    """(kind, subject) of an ALERT record; a record without them gets the fallback."""
    kind = getattr(record, "alert_kind", None)
    subject = getattr(record, "alert_subject", None)
    if kind is None:
        kind = record.name
    if subject is None:
        message = record.getMessage()
        found = _REFERENCE.search(message)
        subject = found.group(0) if found else message
    return str(kind), " ".join(str(subject).split())[:SUBJECT_LIMIT]
