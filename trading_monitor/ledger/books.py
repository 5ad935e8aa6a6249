"""Ledger: writes intents, the broker's view of our orders, and trade status changes."""

from __future__ import annotations

from typing import Any

from trading_monitor.broker.models import BrokerOrder
from trading_monitor.db.connection import Row
from trading_monitor.domain.decision import Decision
from trading_monitor.domain.lifecycle import (
    PENDING_SUBMIT,
    OrderRole,
    TradeStatus,
    client_order_id,
    trade_status_for_entry,
    withdrawn_trade_status,
)
from trading_monitor.domain.sides import Side
from trading_monitor.ledger.fees import FeeBooks
from trading_monitor.ledger.fills import FillBooks
from trading_monitor.ledger.intents import Intent, IntentPlan, load_intent
from trading_monitor.ledger.marks import MarkBooks
from trading_monitor.ledger.protection import ProtectionBooks
from trading_monitor.ledger.runs import log_event
from trading_monitor.ledger.trades import TradeBooks

LEG_ROLES = {"stop": OrderRole.STOP_LOSS, "stop_limit": OrderRole.STOP_LOSS,
             "limit": OrderRole.TAKE_PROFIT}


class Ledger(TradeBooks, FillBooks, ProtectionBooks, MarkBooks, FeeBooks):
    """Every write goes through `db`: inside the caller's transaction when one is open."""

    # -- intents ----------------------------------------------------------------------------

    def write_intent(self, installation: str, d: Decision, plan: IntentPlan,
                     replaces: Row | None = None) -> Intent:
        """Journal PENDING plus order rows awaiting submit, committed together."""
        with self.db.transaction():
            journal_id = self.db.insert("trade_journal", {
                "run_id": self.run_id, "initial_analysis_id": d.decision_id,
                "symbol": d.ticker, "side": _value(d.side),
                "trade_style": _value(d.trade_style), "protection_mode": plan.protection_mode,
                "status": TradeStatus.PENDING.value, "planned_entry_price": d.entry_price,
                "planned_stop_loss": d.stop_loss, "planned_take_profit": d.take_profit,
                "planned_qty": d.order_quantity, "time_in_force": d.order_time_in_force.value,
                "protection_time_in_force": plan.protection_time_in_force,
                "replaces_trade_journal_id": replaces["trade_journal_id"] if replaces else None,
            })
            self._insert_entry(installation, d.decision_id, journal_id, plan, {
                "side": _value(d.side), "symbol": d.ticker, "qty": d.order_quantity,
                "limit_price": d.entry_price, "stop": d.stop_loss, "take": d.take_profit,
                "replaces_order_execution_id": replaces["id"] if replaces else None,
            }, attempt=1)
        found = load_intent(self.db, d.decision_id)
        assert found is not None
        return found

    def write_staged_fallback(self, installation: str, intent: Intent, reason: str) -> Intent:
        """The broker refused the bracket: a new plain entry (a new client order id, since
        Alpaca may count the refused one as used); protection is placed after the fill."""
        e = intent.entry
        journal = self.db.get_by_id("trade_journal", intent.journal_id)
        assert journal is not None
        # The trader's own entry time in force: a plain entry expires by itself.
        plan = IntentPlan("staged", "simple", str(journal["time_in_force"]), None,
                          str(journal["protection_time_in_force"] or "day"))
        with self.db.transaction():
            self.mark_orders([e, *intent.legs], "rejected", reason)
            self._insert_entry(installation, intent.decision_id, intent.journal_id,
                               plan, {
                                   "side": e["side"], "symbol": e["symbol"], "qty": e["qty"],
                                   "limit_price": e["limit_price"], "stop": None, "take": None,
                                   "replaces_order_execution_id":
                                       e["replaces_order_execution_id"],
                               }, attempt=intent.attempts + 1)
            self.db.update("trade_journal", intent.journal_id, {
                "run_id": self.run_id, "protection_mode": "staged",
                "protection_note": f"staged protection after the fill: {reason}"[:1000]})
            log_event(self.db, self.run_id, "trade_journal", intent.journal_id,
                      "protection_fallback", reason)
        found = load_intent(self.db, intent.decision_id)
        assert found is not None
        return found

    def _insert_entry(self, installation: str, decision_id: int, journal_id: int,
                      plan: IntentPlan, o: dict[str, Any], attempt: int) -> None:
        common = {"run_id": self.run_id, "trade_journal_id": journal_id,
                  "analysis_decision_id": decision_id, "symbol": o["symbol"],
                  "order_class": plan.order_class, "time_in_force": plan.broker_time_in_force,
                  "qty": o["qty"], "order_status": PENDING_SUBMIT}
        entry_id = self.db.insert("order_execution", {
            **common, "side": o["side"], "order_type": "limit", "limit_price": o["limit_price"],
            "order_role": OrderRole.ENTRY.value, "entry_expires_at": plan.entry_expires_at,
            "client_order_id": client_order_id(installation, decision_id, OrderRole.ENTRY,
                                               attempt),
            "replaces_order_execution_id": o["replaces_order_execution_id"],
        })
        if plan.order_class == "simple":
            return
        exit_side = Side.of(o["side"]).exit.value
        legs = [(OrderRole.STOP_LOSS, "stop", {"stop_price": o["stop"]})]
        if o["take"] is not None:
            legs.append((OrderRole.TAKE_PROFIT, "limit", {"limit_price": o["take"]}))
        for role, order_type, price in legs:
            self.db.insert("order_execution", {
                **common, **price, "side": exit_side, "order_type": order_type,
                "order_role": role.value, "parent_order_execution_id": entry_id,
                "client_order_id": client_order_id(installation, decision_id, role, attempt),
            })
        log_event(self.db, self.run_id, "trade_journal", journal_id, "intent_written",
                  f"intent for decision #{decision_id}: {o['side']} {o['qty']} {o['symbol']} "
                  f"limit {o['limit_price']}, {plan.order_class}", to_status="PENDING")

    # -- orders -----------------------------------------------------------------------------

    def record_order(self, row: Row, order: BrokerOrder) -> bool:
        """Copy the broker's view of one order (and its legs, matched by type) onto our rows,
        with the fills it shows; True when a fill was booked that we did not have."""
        booked = self._set_order(row, order)
        for leg_row in self.db.query("order_execution",
                                     {"parent_order_execution_id": row["id"]}) if order.legs \
                else []:
            leg = next((lg for lg in order.legs if LEG_ROLES.get(lg.order_type) ==
                        OrderRole(leg_row["order_role"])), None)
            if leg is not None:
                booked = self._set_order(leg_row, leg) or booked
        return booked

    def _set_order(self, row: Row, order: BrokerOrder) -> bool:
        self.db.update("order_execution", row["id"], {
            "run_id": self.run_id, "alpaca_order_id": order.id, "order_status": order.status,
            "qty": order.qty or row["qty"], "submitted_at": order.submitted_at,
            "filled_qty": order.filled_qty, "filled_avg_price": order.filled_avg_price,
            "filled_at": order.filled_at, "broker_updated_at": order.updated_at,
            "canceled_at": order.canceled_at, "expired_at": order.expired_at,
            "expires_at": order.expires_at,
        })
        if row["order_status"] != order.status or row["alpaca_order_id"] != order.id:
            log_event(self.db, self.run_id, "order_execution", row["id"], "order_status",
                      f"{row['client_order_id']} is {order.status} at the broker ({order.id})",
                      from_status=row["order_status"], to_status=order.status)
        if order.filled_qty <= 0:
            return False
        # Fills the feed stored before this row knew its order are this trade's now, and
        # any the order shows beyond them are booked from its average price.
        self.attach_fills(order.id, row)
        return self.book_missing_fill(row, order)

    def mark_orders(self, rows: list[Row], status: str, message: str) -> None:
        for row in rows:
            self.db.update("order_execution", row["id"], {
                "run_id": self.run_id, "order_status": status, "broker_message": message[:1000]})
            log_event(self.db, self.run_id, "order_execution", row["id"], "order_status",
                      message, from_status=row["order_status"], to_status=status)

    def note_order(self, row: Row, message: str) -> None:
        """Why an order's state is not settled yet (kept on the row for the trader)."""
        self.db.update("order_execution", row["id"], {"run_id": self.run_id,
                                                      "broker_message": message[:1000]})

    def link_replacement(self, old_entry: Row, new_entry: Row) -> None:
        """An AMEND's chain: the withdrawn entry and its trade point at their successors."""
        self.db.update("order_execution", old_entry["id"], {
            "run_id": self.run_id, "replaced_by_order_execution_id": new_entry["id"]})
        self.db.update("trade_journal", old_entry["trade_journal_id"], {
            "run_id": self.run_id,
            "replaced_by_trade_journal_id": new_entry["trade_journal_id"]})

    # -- trades -----------------------------------------------------------------------------

    def follow_entry(self, journal_id: int, entry_row: Row, order: BrokerOrder, *,
                     cancelled_as: TradeStatus = TradeStatus.CANCELLED,
                     why: str | None = None) -> TradeStatus:
        """Record the entry order and move its trade to what the order now means.

        `cancelled_as` names what our own cancel means for the trade (EXPIRED when we
        withdrew a DAY entry at the close).
        """
        self.record_order(entry_row, order)
        target = trade_status_for_entry(order.status, order.filled_qty)
        if target is TradeStatus.CANCELLED:
            target = withdrawn_trade_status(cancelled_as, entry_row.get("entry_expires_at"),
                                            self.now())
        current = self.db.get_by_id("trade_journal", journal_id)
        assert current is not None
        if target is None or current["status"] == target.value:
            return TradeStatus(current["status"])
        if target is TradeStatus.POSITION:
            self.set_trade_status(journal_id, target, _fill_text(order),
                                  actual_qty=order.filled_qty,
                                  actual_entry_price=order.filled_avg_price,
                                  entry_date=order.filled_at or self.now(),
                                  exit_reason=None, exit_date=None)
        else:
            self.set_trade_status(journal_id, target, why or
                                  f"entry {order.client_order_id} {order.status} at the broker")
        return target

    def age_trade(self, journal_id: int) -> int:
        """NO_ACTION: one more day open for the trade; returns the new count."""
        aged = self.db.named("age_trade", {"trade_journal_id": journal_id,
                                           "run_id": self.run_id})
        return int(aged[0]["days_open"])

    def close_intent(self, intent: Intent, reason: str, mark_as: str | None) -> None:
        """The trade ends before trading: its order rows marked (unless the broker's status
        is already on them) and the journal REJECTED, together."""
        with self.db.transaction():
            if mark_as is not None:
                self.mark_orders([intent.entry, *intent.legs], mark_as, reason)
            self.set_trade_status(intent.journal_id, TradeStatus.REJECTED, reason)


def _fill_text(order: BrokerOrder) -> str:
    return (f"entry {order.client_order_id} filled {order.filled_qty} of {order.qty} "
            f"@ {order.filled_avg_price}")


def _value(member: Any) -> Any:
    return member.value if member is not None else None

