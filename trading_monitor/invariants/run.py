"""One check: read the books, then the broker (unless told not to), run every invariant."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from trading_monitor.broker.base import Broker
from trading_monitor.clock import Clock, job_clock, system_clock
from trading_monitor.db.connection import TradingDB
from trading_monitor.engine.account_guard import recorded_account, trades_held_elsewhere
from trading_monitor.invariants.broker_checks import live_stop, orders_are_real, single_entry
from trading_monitor.invariants.broker_read import read_broker
from trading_monitor.invariants.broker_view import BrokerView
from trading_monitor.invariants.elsewhere import held_findings, without
from trading_monitor.invariants.halt_windows import no_entry_in_halt
from trading_monitor.invariants.ledger_checks import books_agree, pnl_matches_fills
from trading_monitor.invariants.model import (
    BY_NAME,
    INFO,
    INVARIANTS,
    VIOLATION,
    WARNING,
    Books,
    Finding,
    Limits,
)
from trading_monitor.invariants.read import read_books
from trading_monitor.invariants.records import snapshots, terminal_state
from trading_monitor.settings.config import Settings

NO_BROKER = "--no-broker: the broker was not read"


@dataclass(frozen=True)
class Options:
    pending_age: timedelta = timedelta(days=1)
    halt_race: timedelta = timedelta(seconds=5)
    since: datetime | None = None  # the broker listing's start (default: our first order)
    first_decision: int = 0  # decisions below this id are not checked


@dataclass
class Report:
    as_of: datetime
    findings: list[Finding]
    broker_read: bool
    broker_requests: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # invariant -> what was not checked

    def count(self, severity: str, invariant: str | None = None) -> int:
        return sum(1 for f in self.findings if f.severity == severity
                   and (invariant is None or f.invariant == invariant))

    @property
    def exit_code(self) -> int:
        """1 on any violation; warnings alone pass (they are printed)."""
        return 1 if self.count(VIOLATION) else 0

    def status(self, invariant: str) -> str:
        if not self.broker_read and BY_NAME[invariant].broker == "all":
            return "skipped"
        if self.count(VIOLATION, invariant):
            return "fail"
        return "warn" if self.count(WARNING, invariant) else "pass"

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.exit_code == 0, "exit_code": self.exit_code, "as_of": self.as_of,
            "broker": {"read": self.broker_read, "requests": self.broker_requests},
            "counts": {s: self.count(s) for s in (VIOLATION, WARNING, INFO)},
            "invariants": [{"name": i.name, "title": i.title, "origin": i.origin,
                            "status": self.status(i.name),
                            "violations": self.count(VIOLATION, i.name),
                            "warnings": self.count(WARNING, i.name),
                            "not_checked": self.skipped.get(i.name)} for i in INVARIANTS],
            "findings": [{"invariant": f.invariant, "severity": f.severity,
                          "message": f.message, "trade_id": f.trade_id,
                          "decision_id": f.decision_id, "client_order_id": f.client_order_id,
                          "detail": f.detail} for f in self.findings],
        }


def limits_for(settings: Settings, now: datetime, options: Options) -> Limits:
    poll = timedelta(minutes=settings.order_monitor_interval_minutes)
    return Limits(now=now, pending_age=options.pending_age,
                  bracket_window=timedelta(seconds=settings.partial_entry_timeout_seconds) + poll,
                  settle_grace=poll, orphan_grace=timedelta(minutes=settings.orphan_grace_minutes),
                  halt_race=options.halt_race, first_decision=options.first_decision)


def evaluate(books: Books, view: BrokerView | None, limits: Limits) -> list[Finding]:
    """Every invariant on what was read (pure); the broker's parts only with a view."""
    found = terminal_state(books, limits)
    if view is not None:
        found += live_stop(books, view, limits)
    found += books_agree(books, view, limits)
    found += single_entry(books, view, limits)
    found += pnl_matches_fills(books, limits)
    found += no_entry_in_halt(books, limits)
    found += orders_are_real(books, view, limits)
    found += snapshots(books, limits)
    order = {s: n for n, s in enumerate((VIOLATION, WARNING, INFO))}
    return sorted(found, key=lambda f: order[f.severity])


def run_check(db_config: dict[str, Any], broker: Broker | None, settings: Settings, *,
              now: Clock | None = None, options: Options | None = None) -> Report:
    options = options or Options()
    start = broker.requests_sent if broker is not None else 0
    with TradingDB(config=db_config, read_only=True,
                   application_name="trading-monitor check") as db:
        books = read_books(db)
        elsewhere, account = trades_held_elsewhere(db), recorded_account(db)  # issue 27
        here = without(books, db.named("trade_ids_of_other_accounts"))
        view = read_broker(broker, here, db, options.since) if broker is not None else None
    clock = now or (job_clock(settings.clock_source.value, broker) if broker is not None
                    else system_clock)
    at = clock()  # with CLOCK_SOURCE=broker, one request (counted)
    found = evaluate(books if view is None else here, view, limits_for(settings, at, options))
    found = sorted(held_findings(books, elsewhere, account) + found,
                   key=lambda f: (VIOLATION, WARNING, INFO).index(f.severity))
    report = Report(at, found,
                    broker_read=view is not None,
                    broker_requests=broker.requests_sent - start if broker is not None else 0)
    if view is None:
        report.skipped = {i.name: NO_BROKER for i in INVARIANTS if i.broker != "none"}
    return report
