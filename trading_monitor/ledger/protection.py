"""Intents for the orders the monitors place: protection (a stop, or a stop and target as
one OCO) and exits at market. Written and committed before they are sent, like entries."""

from __future__ import annotations

from decimal import Decimal

from trading_monitor.db.connection import Row
from trading_monitor.domain.lifecycle import (
    PENDING_SUBMIT,
    OrderRole,
    Purpose,
    owned_client_order_id,
)
from trading_monitor.domain.sides import Side
from trading_monitor.domain.ticks import price_text
from trading_monitor.ledger.base import LedgerBase
from trading_monitor.ledger.runs import log_event


class ProtectionBooks(LedgerBase):
    def write_protection_intent(self, journal: Row, installation: str, *, qty: Decimal,
                                stop: Decimal, take: Decimal | None, tif: str) -> list[Row]:
        """A stop for `qty` shares; with `take`, an OCO whose limit order is the target and
        whose leg is the stop (Alpaca refuses two closing orders for the same shares)."""
        exit_side = Side.of(journal["side"]).exit.value
        common = {"run_id": self.run_id, "trade_journal_id": journal["id"],
                  "analysis_decision_id": journal["initial_analysis_id"],
                  "symbol": journal["symbol"], "side": exit_side, "time_in_force": tif,
                  "qty": qty, "order_status": PENDING_SUBMIT,
                  "purpose": Purpose.PROTECTION.value}
        with self.db.transaction():
            if take is None:
                stop_id = self.db.insert("order_execution", {
                    **common, "order_role": OrderRole.STOP_LOSS.value, "order_type": "stop",
                    "order_class": "simple", "stop_price": stop,
                    "client_order_id": self._next_id(journal, installation, OrderRole.STOP_LOSS)})
                ids = [stop_id]
            else:
                parent = self.db.insert("order_execution", {
                    **common, "order_role": OrderRole.TAKE_PROFIT.value, "order_type": "limit",
                    "order_class": "oco", "limit_price": take,
                    "client_order_id": self._next_id(journal, installation,
                                                     OrderRole.TAKE_PROFIT)})
                leg = self.db.insert("order_execution", {
                    **common, "order_role": OrderRole.STOP_LOSS.value, "order_type": "stop",
                    "order_class": "oco", "stop_price": stop, "parent_order_execution_id": parent,
                    "client_order_id": self._next_id(journal, installation, OrderRole.STOP_LOSS)})
                ids = [parent, leg]
            log_event(self.db, self.run_id, "trade_journal", journal["id"], "intent_written",
                      f"protection for {qty} {journal['symbol']}: stop {price_text(stop)}"
                      + (f", target {price_text(take)} (oco)" if take is not None else "")
                      + f", {tif}")
        return [self._row(i) for i in ids]

    def write_exit_intent(self, journal: Row, installation: str, *, qty: Decimal,
                          purpose: Purpose) -> Row:
        """Close `qty` shares at market (end of day, emergency, kill switch, approved target)."""
        with self.db.transaction():
            row_id = self.db.insert("order_execution", {
                "run_id": self.run_id, "trade_journal_id": journal["id"],
                "analysis_decision_id": journal["initial_analysis_id"],
                "symbol": journal["symbol"], "side": Side.of(journal["side"]).exit.value,
                "time_in_force": "day", "qty": qty, "order_status": PENDING_SUBMIT,
                "order_role": OrderRole.EXIT.value, "order_type": "market",
                "order_class": "simple", "purpose": purpose.value,
                "client_order_id": self._next_id(journal, installation, OrderRole.EXIT)})
            log_event(self.db, self.run_id, "trade_journal", journal["id"], "intent_written",
                      f"exit {qty} {journal['symbol']} at market ({purpose.value})")
        return self._row(row_id)

    def write_replacement_intent(self, journal: Row, installation: str, old: Row, *,
                                 stop_price: Decimal) -> Row:
        """The order a PATCH of `old` will become: same shape, a new stop price and the next
        client order id of the sequence, committed before the PATCH is sent."""
        role = OrderRole(old["order_role"])
        with self.db.transaction():
            row_id = self.db.insert("order_execution", {
                "run_id": self.run_id, "trade_journal_id": journal["id"],
                "analysis_decision_id": old["analysis_decision_id"], "symbol": old["symbol"],
                "side": old["side"], "time_in_force": old["time_in_force"], "qty": old["qty"],
                "order_status": PENDING_SUBMIT, "order_role": role.value,
                "order_type": old["order_type"], "order_class": old["order_class"],
                "stop_price": stop_price, "limit_price": old["limit_price"],
                "parent_order_execution_id": old["parent_order_execution_id"],
                "purpose": Purpose.PROTECTION.value,
                "replaces_order_execution_id": old["id"],
                "client_order_id": self._next_id(journal, installation, role)})
            self.db.update("order_execution", old["id"], {
                "run_id": self.run_id, "replaced_by_order_execution_id": row_id})
            log_event(self.db, self.run_id, "trade_journal", journal["id"], "intent_written",
                      f"replace {old['client_order_id']}: stop {price_text(old['stop_price'])} → "
                      f"{price_text(stop_price)}")
        return self._row(row_id)

    def _next_id(self, journal: Row, installation: str, role: OrderRole) -> str:
        """The next unused id of the sequence (…-stop_loss, …-stop_loss-2, …): never reused,
        since Alpaca refuses an id it has seen, even of a cancelled order."""
        decision = journal["initial_analysis_id"]
        owner = f"d{decision}" if decision is not None else f"t{journal['id']}"
        attempt = 1
        while True:
            candidate = owned_client_order_id(installation, owner, role, attempt)
            if not self.db.query("order_execution", {"client_order_id": candidate}):
                return candidate
            attempt += 1

    def _row(self, row_id: int) -> Row:
        row = self.db.get_by_id("order_execution", row_id)
        assert row is not None
        return row
