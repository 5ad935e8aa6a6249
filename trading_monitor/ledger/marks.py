"""Position marks, trailing steps and target approvals: the position row's live fields."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from trading_monitor.db.pg import sql
from trading_monitor.db.queries import Queries
from trading_monitor.domain.ticks import price_text
from trading_monitor.ledger.base import LedgerBase
from trading_monitor.ledger.runs import log_event

QUERIES = Queries(__name__)  # queries.sql beside this module


@dataclass(frozen=True)
class Mark:
    journal_id: int
    stale: bool
    price: Decimal | None = None
    at: datetime | None = None
    market_value: Decimal | None = None
    unrealized_pnl: Decimal | None = None
    unrealized_r: Decimal | None = None
    high_water_mark: Decimal | None = None


class MarkBooks(LedgerBase):
    def mark_positions(self, marks: list[Mark]) -> None:
        """The book's marks in one statement. A stale one sets only its flag: never a zero
        or a made-up value in place of a price we do not have."""
        rows = sql.SQL(", ").join(
            sql.SQL("(%s, %s::boolean, %s::numeric, %s::timestamptz, %s::numeric, "
                    "%s::numeric, %s::numeric, %s::numeric)") for _ in marks)
        params: list[object] = []
        for k in marks:
            params += [k.journal_id, k.stale, k.price, k.at, k.market_value, k.unrealized_pnl,
                       k.unrealized_r, k.high_water_mark]
        self.db.execute_update(sql.SQL(
            QUERIES["marks_record"]).format(rows), [self.run_id, *params])

    def record_trail_step(self, journal_id: int, step: int, stop: Decimal) -> None:
        self.db.execute_update(QUERIES["marks_trail_step"], [step, self.run_id, journal_id])
        self.db.update("trade_journal", journal_id, {"run_id": self.run_id,
                                                     "planned_stop_loss": stop})
        log_event(self.db, self.run_id, "trade_journal", journal_id, "trailing_stop",
                  f"trade #{journal_id}: stop moved to {price_text(stop)} (step {step})")

    def record_target_reached(self, journal_id: int, at: datetime) -> None:
        self.db.execute_update(QUERIES["marks_target_reached"], [at, self.run_id, journal_id])
        log_event(self.db, self.run_id, "trade_journal", journal_id, "target_reached",
                  f"trade #{journal_id} reached its target with no take-profit order; "
                  "approve the exit to close it")

    def approve_exit(self, journal_id: int, by: str) -> bool:
        changed = self.db.execute_update(
            QUERIES["marks_approve_exit"], [self.run_id, journal_id])
        if changed:
            log_event(self.db, self.run_id, "trade_journal", journal_id, "exit_approved",
                      f"exit of trade #{journal_id} approved by {by}")
        return changed > 0
