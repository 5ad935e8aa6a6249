"""Positions and closes: the journal and position rows that follow from the fills."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from trading_monitor.domain.lifecycle import ExitReason, TradeStatus, check_trade_transition
from trading_monitor.domain.sides import Side
from trading_monitor.domain.ticks import price_text
from trading_monitor.ledger.base import LedgerBase
from trading_monitor.ledger.runs import log_event

CLOSING_STATUSES = frozenset({TradeStatus.CLOSED.value, TradeStatus.CANCELLED.value,
                              TradeStatus.EXPIRED.value})


class TradeBooks(LedgerBase):
    def set_trade_status(self, journal_id: int, status: TradeStatus, reason: str,
                         **extra: Any) -> None:
        """Move a trade, checked against the allowed transitions; CLOSED, CANCELLED and
        EXPIRED also stamp the exit (reason and time) unless the caller gives them."""
        current = self.db.get_by_id("trade_journal", journal_id)
        if current is None:
            raise LookupError(f"trade_journal #{journal_id} does not exist")
        check_trade_transition(current["status"], status.value)
        data: dict[str, Any] = {"run_id": self.run_id, "status": status.value, **extra}
        if status.value in CLOSING_STATUSES:
            data.setdefault("exit_reason", reason[:1000])
            data.setdefault("exit_date", self.now())
        else:
            data.setdefault("notes", reason[:1000])
        self.db.update("trade_journal", journal_id, data)
        log_event(self.db, self.run_id, "trade_journal", journal_id, "status", reason,
                  from_status=current["status"], to_status=status.value)

    def open_position(self, journal_id: int, qty: Decimal, avg_price: Decimal,
                      first_fill_at: datetime, slippage_bps: Decimal | None) -> None:
        """The entry's first fill: the trade is a position, with a position row."""
        self.set_trade_status(journal_id, TradeStatus.POSITION,
                              f"entry filled {qty} @ {price_text(avg_price)}", actual_qty=qty,
                              actual_entry_price=avg_price, entry_date=first_fill_at,
                              first_fill_at=first_fill_at, entry_slippage_bps=slippage_bps,
                              exit_reason=None, exit_date=None)
        self._position_row(journal_id, qty, avg_price)

    def resize_position(self, journal_id: int, qty: Decimal, avg_price: Decimal) -> bool:
        """More entry fills, or a partial exit; True when something changed."""
        row = self.db.get_by_id("trade_journal", journal_id)
        assert row is not None
        position = self.db.query("position_tracking", {"trade_journal_id": journal_id})
        entry_qty = row["actual_qty"]
        same = position and position[0]["qty"] == qty and row["actual_entry_price"] == avg_price
        if same:
            return False
        if row["actual_entry_price"] != avg_price or (entry_qty or 0) < qty:
            self.db.update("trade_journal", journal_id, {
                "run_id": self.run_id, "actual_entry_price": avg_price,
                "actual_qty": max(qty, entry_qty or 0)})
        self._position_row(journal_id, qty, avg_price)
        log_event(self.db, self.run_id, "position_tracking", journal_id, "resized",
                  f"trade #{journal_id} holds {qty} @ {price_text(avg_price)}")
        return True

    def _position_row(self, journal_id: int, qty: Decimal, avg_price: Decimal) -> None:
        row = self.db.get_by_id("trade_journal", journal_id)
        assert row is not None
        self.db.named_update("upsert_position", {
            "run_id": self.run_id, "trade_journal_id": journal_id, "symbol": row["symbol"],
            "side": Side.of(row["side"]).position, "qty": qty,
            "avg_entry_price": avg_price})

    def close_trade(self, journal_id: int, *, exit_price: Decimal, exit_at: datetime,
                    pnl: Decimal, fees: Decimal, reason: ExitReason, text: str,
                    requested_exit_price: Decimal | None = None,
                    slippage_bps: Decimal | None = None, estimated: bool = False) -> None:
        """The position is gone: CLOSED with the exit's own time and price, and the position
        row deleted (the journal and the fills keep the history)."""
        self.set_trade_status(journal_id, TradeStatus.CLOSED, text, exit_price=exit_price,
                              exit_date=exit_at, actual_pnl=pnl, fees=fees,
                              exit_reason_code=reason.value,
                              requested_exit_price=requested_exit_price,
                              exit_slippage_bps=slippage_bps, exit_estimated=estimated)
        self.db.named_update("delete_position", {"trade_journal_id": journal_id})

    def mark_protected(self, journal_id: int, at: datetime) -> None:
        """A stop at the broker now covers the whole position; the window is recorded."""
        row = self.db.get_by_id("trade_journal", journal_id)
        assert row is not None
        first = row["first_fill_at"] or at
        seconds = Decimal(str(max((at - first).total_seconds(), 0.0))).quantize(Decimal("0.001"))
        self.db.update("trade_journal", journal_id, {
            "run_id": self.run_id, "protected_at": at, "unprotected_seconds": seconds})
        log_event(self.db, self.run_id, "trade_journal", journal_id, "protected",
                  f"trade #{journal_id} protected {seconds}s after its first fill")

    def set_planned_stop(self, journal_id: int, stop: Decimal, why: str) -> None:
        """The stop price the trade's protection is placed at (an adopted position's)."""
        self.db.update("trade_journal", journal_id, {"planned_stop_loss": stop,
                                                     "run_id": self.run_id})
        log_event(self.db, self.run_id, "trade_journal", journal_id, "planned_stop",
                  f"trade #{journal_id}: stop price set to {price_text(stop)} ({why})")

    def note_emergency(self, journal_id: int, action: str) -> None:
        self.db.update("trade_journal", journal_id, {"run_id": self.run_id,
                                                     "emergency_action": action[:1000]})
        log_event(self.db, self.run_id, "trade_journal", journal_id, "emergency", action)

    def adopt_external_position(self, symbol: str, qty: Decimal, avg_price: Decimal,
                                reason: str) -> int:
        """A position at the broker that no trade of ours explains becomes an EXTERNAL trade
        (so it can be protected, flattened and reported); returns its journal id."""
        side = Side.holding(qty).value
        size = abs(qty)
        with self.db.transaction():
            journal_id = self.db.insert("trade_journal", {
                "run_id": self.run_id, "symbol": symbol, "side": side, "trade_style": "SWING",
                "protection_mode": "staged", "status": TradeStatus.POSITION.value,
                "origin": "EXTERNAL", "planned_qty": size, "actual_qty": size,
                "actual_entry_price": avg_price, "entry_date": self.now(),
                "first_fill_at": self.now(), "notes": reason[:1000]})
            self._position_row(journal_id, size, avg_price)
            log_event(self.db, self.run_id, "trade_journal", journal_id, "adopted", reason,
                      to_status=TradeStatus.POSITION.value)
        return journal_id
