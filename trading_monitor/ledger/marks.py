"""Position marks, trailing steps and target approvals: the position row's live fields."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from trading_monitor.ledger.base import LedgerBase
from trading_monitor.runs import log_event


class MarkBooks(LedgerBase):
    def mark_position(self, journal_id: int, *, price: Decimal | None, at: datetime | None,
                      market_value: Decimal | None, unrealized_pnl: Decimal | None,
                      unrealized_r: Decimal | None, high_water_mark: Decimal | None,
                      stale: bool) -> None:
        """The current mark, or, for a missing or stale price, only the stale flag: never
        a zero or a made-up value in place of a price we do not have."""
        data: dict[str, object] = {"run_id": self.run_id, "mark_stale": stale}
        if not stale:
            data.update(current_price=price, last_price_at=at, market_value=market_value,
                        unrealized_pnl=unrealized_pnl, unrealized_r=unrealized_r,
                        high_water_mark=high_water_mark)
        self.db.execute_update(
            "UPDATE position_tracking SET " + ", ".join(f"{k} = %s" for k in data)  # noqa: S608
            + " WHERE trade_journal_id = %s", [*data.values(), journal_id])

    def record_trail_step(self, journal_id: int, step: int, stop: Decimal) -> None:
        self.db.execute_update("UPDATE position_tracking SET trail_step = %s, run_id = %s "
                               "WHERE trade_journal_id = %s", [step, self.run_id, journal_id])
        self.db.update("trade_journal", journal_id, {"run_id": self.run_id,
                                                     "planned_stop_loss": stop})
        log_event(self.db, self.run_id, "trade_journal", journal_id, "trailing_stop",
                  f"trade #{journal_id}: stop moved to {stop} (step {step})")

    def record_target_reached(self, journal_id: int, at: datetime) -> None:
        self.db.execute_update("UPDATE position_tracking SET target_reached_at = %s, "
                               "run_id = %s WHERE trade_journal_id = %s AND "
                               "target_reached_at IS NULL", [at, self.run_id, journal_id])
        log_event(self.db, self.run_id, "trade_journal", journal_id, "target_reached",
                  f"trade #{journal_id} reached its target with no take-profit order; "
                  "approve the exit to close it")

    def approve_exit(self, journal_id: int, by: str) -> bool:
        changed = self.db.execute_update(
            "UPDATE position_tracking SET exit_approved = true, run_id = %s "
            "WHERE trade_journal_id = %s", [self.run_id, journal_id])
        if changed:
            log_event(self.db, self.run_id, "trade_journal", journal_id, "exit_approved",
                      f"exit of trade #{journal_id} approved by {by}")
        return changed > 0
