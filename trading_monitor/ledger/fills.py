"""Fills: facts from the broker, each stored once whichever way it arrived."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from trading_monitor.broker.models import BrokerOrder
from trading_monitor.db.connection import Row
from trading_monitor.db.queries import Queries
from trading_monitor.ledger.base import LedgerBase
from trading_monitor.ledger.runs import log_event

QUERIES = Queries(__name__)  # queries.sql beside this module


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
    leaves_qty: Decimal | None = None  # what the order had left to fill after it (unknown: None)


class FillBooks(LedgerBase):
    """Booked fills of an order always add up to the broker's filled quantity for it.

    A fill comes from the FILL feed or the stream (a real execution), or from the order's
    own `filled_qty` when that is ahead of them (`source = 'order'`, a stand-in). A stand-in
    is never merged by key with real executions: Alpaca reports each execution once, with
    its own cumulative quantity, and the stand-in's is the order's final one. When a real
    execution arrives the order's stand-in goes, and a new one books only what the real
    executions do not explain yet (a 10-share entry seen filled before its executions of 4
    and 6 stays 10, never 14).
    """

    def record_fill(self, fact: FillFact, order_row: Row | None) -> bool:
        """Store the fill unless it is known; True when it is new. A known fill only gains the
        id it was missing (the stream's execution id, or the REST activity id)."""
        if fact.source == "order":
            return self._upsert_fill(fact, order_row)
        with self.db.transaction():
            gone = self._drop_standins(fact.alpaca_order_id)
            inserted = self._upsert_fill(fact, order_row)
            if not inserted and self._drop_standins(fact.alpaca_order_id):
                # A stand-in another job had not committed yet took this key meanwhile (the
                # insert waited for it, then merged into it): it gives way too.
                gone, inserted = True, self._upsert_fill(fact, order_row)
            if gone:
                self._book_rest(fact.alpaca_order_id)
        return inserted

    def _drop_standins(self, alpaca_order_id: str) -> bool:
        return bool(self.db.execute_query(
            QUERIES["fills_delete_order_fills"],
            [alpaca_order_id]))

    def _upsert_fill(self, fact: FillFact, order_row: Row | None) -> bool:
        rows = self.db.named("upsert_fill", {
            "run_id": self.run_id, "alpaca_order_id": fact.alpaca_order_id,
            "order_execution_id": order_row["id"] if order_row else None,
            "trade_journal_id": order_row["trade_journal_id"] if order_row else None,
            "activity_id": fact.activity_id, "execution_id": fact.execution_id,
            "symbol": fact.symbol, "side": fact.side, "qty": fact.qty, "cum_qty": fact.cum_qty,
            "price": fact.price, "fee": fact.fee, "filled_at": fact.filled_at,
            "source": fact.source, "leaves_qty": fact.leaves_qty,
        })
        return bool(rows and rows[0]["inserted"])

    def _book_rest(self, alpaca_order_id: str) -> None:
        """After a stand-in gave way: a new one for what the order's row (the broker's last
        word on it) shows beyond the real executions stored."""
        rows = self.db.execute_query(
            QUERIES["fills_latest_order_row"],
            [alpaca_order_id])
        if not rows or rows[0]["filled_avg_price"] is None:
            return
        row = rows[0]
        self._book_gap(row, alpaca_order_id, row["symbol"], row["side"], row["filled_qty"],
                       row["filled_avg_price"],
                       row["filled_at"] or row["broker_updated_at"] or self.now())

    def remember_fill_cursor(self, activity_id: str) -> None:
        self.db.named_update("set_system_value", {"key": "fill_cursor", "value": activity_id,
                                                  "reason": "last FILL activity read"})

    def record_filled_from_fills(self, row: Row) -> None:
        """An order the fills show complete: filled, at the fills' average, without a read.
        The fills become its trade's first: the feed may have stored them before this row
        knew its order (an answer slower than the fill), and a trade whose entry fills stay
        unattached never opens; its shares would be adopted as someone else's."""
        self.attach_fills(row["alpaca_order_id"], row)
        agg = self.db.execute_query(
            QUERIES["fills_order_totals"], [row["alpaca_order_id"]])[0]
        self.db.update("order_execution", row["id"], {
            "run_id": self.run_id, "order_status": "filled", "filled_qty": agg["qty"],
            "filled_avg_price": agg["avg"], "filled_at": agg["at"]})
        log_event(self.db, self.run_id, "order_execution", row["id"], "order_status",
                  f"{row['client_order_id']} filled (per the fill feed)",
                  from_status=row["order_status"], to_status="filled")

    def attach_fills(self, alpaca_order_id: str, row: Row) -> None:
        self.db.execute_update(
            QUERIES["fills_assign_order"],
            [row["id"], row["trade_journal_id"], self.run_id, alpaca_order_id])

    def assign_exit_fills(self, journal_id: int, fill_ids: list[int], why: str) -> None:
        """Fills not of our orders (a close by hand) become the trade's exit: they close
        nothing else."""
        if not fill_ids:
            return  # a fill only partly ours prices the close but stays unattached
        self.db.execute_update(QUERIES["fills_assign_exit"], [journal_id, self.run_id, fill_ids])
        log_event(self.db, self.run_id, "trade_journal", journal_id, "exit_fills",
                  f"trade #{journal_id}: fills {fill_ids} are its exit ({why})")

    def book_missing_fill(self, row: Row, order: BrokerOrder) -> bool:
        """Fills the order shows beyond those stored: one stand-in for the difference, at the
        price that makes the stored fills average to the order's average (it gives way to
        the real executions when they arrive, see `record_fill`)."""
        if order.filled_avg_price is None:
            return False
        return self._book_gap(row, order.id, order.symbol, order.side, order.filled_qty,
                              order.filled_avg_price,
                              order.filled_at or order.updated_at or self.now())

    def _book_gap(self, row: Row, alpaca_order_id: str, symbol: str, side: str,
                  filled_qty: Decimal, avg_price: Decimal, at: datetime) -> bool:
        stored = self.db.execute_query(
            QUERIES["fills_of_order"],
            [alpaca_order_id])
        missing = filled_qty - sum((f["qty"] for f in stored), Decimal(0))
        key = _free_key(filled_qty, missing, {f["cum_qty"] for f in stored})
        if missing <= 0 or key is None:
            return False
        value = sum((f["qty"] * f["price"] for f in stored), Decimal(0))
        price = (avg_price * filled_qty - value) / missing
        return self._upsert_fill(FillFact(
            alpaca_order_id=alpaca_order_id, symbol=symbol, side=side, qty=missing,
            cum_qty=key, price=price.quantize(Decimal("0.0001")), filled_at=at,
            source="order"), row)


def _free_key(filled_qty: Decimal, missing: Decimal, taken: set[Decimal]) -> Decimal | None:
    """The stand-in's cumulative quantity: the order's, unless a real execution already has
    it (the feed brought the last execution before earlier ones), then the point the missing
    executions reach. Only a key: every real execution removes the stand-in first."""
    for key in (filled_qty, missing, *(filled_qty - t for t in sorted(taken))):
        if key > 0 and key not in taken:
            return key
    return None
