"""The cockpit's actions, done by the CLI's own code: the kill switch (with or without
flatten), resume, and flattening one trade now. Each is written to event_log with its
source (`cockpit` and the caller's address) and the confirmation the operator gave.

They run in a worker thread of the daemon, never on the server's event loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from trading_monitor.broker.base import Broker
from trading_monitor.cli import kill_switch
from trading_monitor.cli.flatten import flatten_now
from trading_monitor.cli.operator import RESUMABLE
from trading_monitor.db.connection import TradingDB
from trading_monitor.domain.sides import exit_side
from trading_monitor.engine.account_guard import guarded
from trading_monitor.engine.context import Monitor, monitor_settings
from trading_monitor.engine.halts import clear_halt, set_halt
from trading_monitor.ledger.alerts import alert
from trading_monitor.ledger.installation import installation_id
from trading_monitor.ledger.runs import log_event, new_run_id
from trading_monitor.settings.config import Settings
from trading_monitor.web import data

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    ok: bool
    lines: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Actor:
    """Where the cockpit acts from: the daemon's settings, database and broker."""

    settings: Settings
    db_config: dict[str, Any]
    broker: Broker
    now: Callable[[], datetime]
    sleep: Callable[[float], None] = time.sleep

    def _db(self) -> TradingDB:
        return TradingDB(config=self.db_config, application_name="trading-monitor cockpit")

    def _monitor(self, db: TradingDB, run_id: str) -> Monitor:
        # Guarded like the CLI's: keys of another account than the books' refuse before
        # anything is cancelled or sold there (the halt stays on).
        return Monitor(db=db, broker=guarded(db, self.broker, run_id), run_id=run_id,
                       installation=installation_id(db),
                       config=monitor_settings(self.settings), now=self.now, sleep=self.sleep)

    def kill(self, reason: str, source: str, flatten: bool, confirmed: str) -> Outcome:
        """`trading-monitor kill-switch [--flatten]`: the halt first, then under the jobs'
        locks cancel every live entry (and with flatten close every position)."""
        why = f"by {source}: {reason}"
        with self._db() as db:
            run_id = new_run_id("kill_switch")
            _audit(db, run_id, "kill_switch_flatten" if flatten else "kill_switch", source,
                   confirmed, reason)
            was_off = set_halt(db, run_id, "kill_switch", "on", why)
            lines = [f"kill switch ON ({why}){'' if was_off else ' - it was already on'}"]
            with kill_switch.job_locks(db, self.settings, self.sleep):
                report = kill_switch.act(self._monitor(db, run_id), flatten)
            kill_switch._record(db, run_id, why, report, flatten)
        return Outcome(not report.problems, lines + report.lines)

    def resume(self, reason: str, source: str, confirmed: str) -> Outcome:
        """`trading-monitor resume`: clear the kill switch, drawdown and reconciliation halts
        (the daily loss halt clears itself the next trading day)."""
        why = f"resumed by {source}: {reason}"
        with self._db() as db:
            run_id = new_run_id("operator")
            _audit(db, run_id, "resume", source, confirmed, reason)
            cleared = [k for k in RESUMABLE if clear_halt(db, run_id, k, why)]
            log_event(db, run_id, "system_state", None, "resume",
                      f"{why}; cleared: {', '.join(cleared) or 'nothing'}",
                      detail={"cleared": cleared, "source": source})
        if cleared:  # as `trading-monitor resume` does
            alert(log, "operator", "resume", "trading resumed: %s cleared (%s)",
                  ", ".join(cleared), why)
        return Outcome(True, [f"cleared: {', '.join(cleared)}" if cleared else
                              "none of " + ", ".join(RESUMABLE) + " was set",
                              "the daily loss halt is not cleared by resume; it clears itself "
                              "the next trading day"])

    def flatten(self, trade_id: int, reason: str, source: str, confirmed: str) -> Outcome:
        """`trading-monitor flatten TRADE_ID --reason`: close this one trade now, its stop
        kept until the exit is accepted."""
        with self._db() as db:
            run_id = new_run_id("flatten")
            _audit(db, run_id, "flatten", source, confirmed, reason, trade_id)
            result = flatten_now(db, self.settings, self.broker, trade_id, reason,
                                 now=self.now, sleep=self.sleep, run_id=run_id, source=source)
        return Outcome(bool(result.ok), [*result.lines, f"trade #{trade_id}: {result.status}"])


def _audit(db: TradingDB, run_id: str, action: str, source: str, confirmed: str, reason: str,
           trade_id: int | None = None) -> None:
    """The operator's request, before anything is done: who, from where, what they saw."""
    log_event(db, run_id, "trade_journal" if trade_id else "system_state", trade_id,
              "cockpit_action", f"{action} requested on the cockpit by {source}: {reason} "
              f"(confirmed: {confirmed})",
              detail={"action": action, "source": source, "confirmed": confirmed,
                      "reason": reason})


def flatten_confirmation(db: TradingDB, trade_id: int) -> str | None:
    """What the operator must confirm to flatten this trade: side, quantity and symbol."""
    for p in data.positions(db):
        if p.trade_id == trade_id:
            return f"{exit_side(p.side)} {p.qty.normalize():f} {p.symbol}"
    return None


def kill_confirmation(db: TradingDB, flatten: bool) -> str:
    held = data.positions(db)
    names = ", ".join(f"{p.qty.normalize():f} {p.symbol}" for p in held) or "no position"
    return f"close {names}" if flatten else f"keep {names} with their stops"


def resume_confirmation(db: TradingDB, settings: Settings, now: datetime) -> str:
    from trading_monitor.cli.book import trading_day
    from trading_monitor.engine.halts import halt_states

    states = halt_states(db, trading_day(now), settings.trading_halted)
    on = [h["key"] for h in states if h["active"] and h["key"] in RESUMABLE]
    return "clear " + (", ".join(on) or "nothing (no resumable halt is set)")
