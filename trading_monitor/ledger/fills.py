"""Fills: facts from the broker, each stored once whichever way it arrived."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from trading_monitor.broker.models import BrokerOrder
from trading_monitor.db_layer import Row
from trading_monitor.ledger.base import LedgerBase
from trading_monitor.runs import log_event


@dataclass(frozen=True)
class FillFact:
    alpaca_order_id: str
    symbol: str
    side: str
    qty: Decimal
    cum_qty: Decimal  # the order's filled quantity after this fill: the key with the order
    price: Decimal
    filled_at: datetime
    source: str  # activity | stream | order
    activity_id: str | None = None
    execution_id: str | None = None
    fee: Decimal | None = None


class FillBooks(LedgerBase):
    def record_fill(self, fact: FillFact, order_row: Row | None) -> bool:
        """Store the fill unless it is known; True when it is new. A known fill only gains the
        id it was missing (the stream's execution id, or the REST activity id)."""
        rows = self.db.named("upsert_fill", {
            "run_id": self.run_id, "alpaca_order_id": fact.alpaca_order_id,
            "order_execution_id": order_row["id"] if order_row else None,
            "trade_journal_id": order_row["trade_journal_id"] if order_row else None,
            "activity_id": fact.activity_id, "execution_id": fact.execution_id,
            "symbol": fact.symbol, "side": fact.side, "qty": fact.qty, "cum_qty": fact.cum_qty,
            "price": fact.price, "fee": fact.fee, "filled_at": fact.filled_at,
            "source": fact.source,
        })
        return bool(rows and rows[0]["inserted"])

    def remember_fill_cursor(self, activity_id: str) -> None:
        self.db.named_update("set_system_value", {"key": "fill_cursor", "value": activity_id,
                                                  "reason": "last FILL activity read"})

    def record_filled_from_fills(self, row: Row) -> None:
        """An order the fills show complete: filled, at the fills' average, without a read."""
        agg = self.db.execute_query(
            "SELECT sum(qty) AS qty, sum(qty * price) / sum(qty) AS avg, max(filled_at) AS at "
            "FROM fills WHERE alpaca_order_id = %s", [row["alpaca_order_id"]])[0]
        self.db.update("order_execution", row["id"], {
            "run_id": self.run_id, "order_status": "filled", "filled_qty": agg["qty"],
            "filled_avg_price": agg["avg"], "filled_at": agg["at"]})
        log_event(self.db, self.run_id, "order_execution", row["id"], "order_status",
                  f"{row['client_order_id']} filled (per the fill feed)",
                  from_status=row["order_status"], to_status="filled")

    def attach_fills(self, alpaca_order_id: str, row: Row) -> None:
        self.db.execute_update(
            "UPDATE fills SET order_execution_id = %s, trade_journal_id = %s, run_id = %s "
            "WHERE alpaca_order_id = %s AND trade_journal_id IS NULL",
            [row["id"], row["trade_journal_id"], self.run_id, alpaca_order_id])

    def book_missing_fill(self, row: Row, order: BrokerOrder) -> bool:
        """Fills the order shows beyond those stored: one fill for the difference, at the
        price that makes the stored fills average to the order's average (merged with the
        feed's own fill of the same cumulative quantity when that arrives)."""
        stored = self.db.execute_query(
            "SELECT COALESCE(sum(qty), 0) AS qty, COALESCE(sum(qty * price), 0) AS value "
            "FROM fills WHERE alpaca_order_id = %s", [order.id])[0]
        missing = order.filled_qty - stored["qty"]
        if missing <= 0 or order.filled_avg_price is None:
            return False
        price = (order.filled_avg_price * order.filled_qty - stored["value"]) / missing
        return self.record_fill(FillFact(
            alpaca_order_id=order.id, symbol=order.symbol, side=order.side, qty=missing,
            cum_qty=order.filled_qty, price=price.quantize(Decimal("0.0001")),
            filled_at=order.filled_at or order.updated_at or self.now(), source="order"), row)
