"""Fees: Alpaca's FEE activities (SEC, TAF, ...) booked onto the fills and trades they cost.

Fills carry no fee (neither the FILL feed nor the stream gives one); Alpaca posts regulatory
fees as separate non-trade activities. Each is stored once (`fee_activity`) and allocated
(`fee_allocation`, append-only: a reversal is a row of the opposite amount):

- by its order id, pro rata by quantity over that order's fills of ours;
- without one, by symbol and day, pro rata over our fills of that symbol that New York day;
- else to no trade: an "unallocated fees" row, shown by the report and `status`, and tried
  again every cycle (a fill the feed had not booked yet takes it later).

Borrow fees and dividends owed on a short (issue 21, migration 0017; `cost_kind` borrow or
short_dividend, told apart in trading_monitor/engine/fees.py) go by the position held instead: to
the
opening fills of our short trades in the symbol, pro rata by quantity times the New York days
each was held short within the HELD_WINDOW_DAYS up to the activity's day (Alpaca charges borrow
on the shorts held at the day's end, and may post a month of it at once; the dividend's pay
day is after its ex-date). What no short of ours explains, and a dividend-family debit that is
not identified as owed on a short (`unidentified`), stays unallocated.

A fill's `fee` is the sum of its allocations; a trade's `fees` the sum of its fills' fees,
and a closed trade's `actual_pnl` moves by the change, so P&L stays net of fees
(invariants/ledger_checks.py pnl_matches_fills).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from trading_monitor.db.connection import Row
from trading_monitor.db.queries import Queries
from trading_monitor.ledger.base import LedgerBase
from trading_monitor.ledger.runs import log_event

QUERIES = Queries(__name__)  # queries.sql beside this module

ZERO = Decimal(0)
PLACES = Decimal("0.000001")
HELD_WINDOW_DAYS = 31


@dataclass(frozen=True)
class FeeFact:
    """One FEE activity as read: `amount` is what it costs us (-net_amount)."""

    activity_id: str
    status: str  # executed | correct | canceled
    amount: Decimal
    day: date | None
    symbol: str | None
    alpaca_order_id: str | None
    sub_type: str | None = None
    description: str | None = None
    activity_type: str = "FEE"
    cost_kind: str = "regulatory"  # regulatory | borrow | short_dividend | unidentified


class FeeBooks(LedgerBase):
    def fee_row(self, activity_id: str) -> Row | None:
        rows = self.db.query("fee_activity", {"activity_id": activity_id})
        return rows[0] if rows else None

    def store_fee(self, fee: FeeFact, effective: bool, replaces: str | None = None) -> Row:
        self.db.insert("fee_activity", {
            "run_id": self.run_id, "activity_id": fee.activity_id, "status": fee.status,
            "sub_type": fee.sub_type, "activity_day": fee.day, "symbol": fee.symbol,
            "alpaca_order_id": fee.alpaca_order_id, "amount": fee.amount,
            "effective": effective, "replaces_activity_id": replaces,
            "description": (fee.description or "")[:1000] or None,
            "activity_type": fee.activity_type, "cost_kind": fee.cost_kind})
        row = self.fee_row(fee.activity_id)
        assert row is not None
        return row

    def update_fee(self, row: Row, **data: Any) -> Row:
        self.db.update("fee_activity", row["id"], {"run_id": self.run_id, **data})
        found = self.db.get_by_id("fee_activity", row["id"])
        assert found is not None
        return found

    def fee_predecessor(self, fee: FeeFact) -> Row | None:
        """The fee a correction or cancellation posted as a new activity stands for: the
        latest one still counting with the same order (else symbol and day) and sub-type;
        for a cancellation one of the same amount first."""
        if fee.alpaca_order_id:
            rows = self.db.execute_query(
                QUERIES["fee_predecessor_of_order"],
                [fee.activity_id, fee.alpaca_order_id, fee.sub_type])
        else:
            rows = self.db.execute_query(
                QUERIES["fee_predecessor_of_symbol_day"],
                [fee.activity_id, fee.symbol, fee.day, fee.sub_type])
        if fee.status == "canceled":
            rows = [r for r in rows if abs(r["amount"]) == abs(fee.amount)] or rows
        return rows[0] if rows else None

    # -- allocations ------------------------------------------------------------------------

    def fee_targets(self, fee: Row) -> tuple[str, list[Row]]:
        """Our fills the fee belongs to, and on what basis (none: unallocated)."""
        kind = fee.get("cost_kind") or "regulatory"
        if kind in ("borrow", "short_dividend") and fee["symbol"] and fee["activity_day"]:
            return "position_held", self.db.execute_query(QUERIES["fee_position_held"], {
                "day": fee["activity_day"], "window": HELD_WINDOW_DAYS,
                "symbol": fee["symbol"]})
        if kind != "regulatory":
            return "unallocated", []
        if fee["alpaca_order_id"]:
            # Only this order's fills: a fee of the trader's own order is not ours to carry.
            return "order", self.db.execute_query(
                QUERIES["fee_fills_of_order"], [fee["alpaca_order_id"]])
        if fee["symbol"] and fee["activity_day"]:
            return "symbol_day", self.db.execute_query(
                QUERIES["fee_fills_of_symbol_day"],
                [fee["symbol"], fee["activity_day"]])
        return "unallocated", []

    def allocate_fee(self, fee: Row) -> str:
        """Reverse whatever the fee holds now, then give it to its fills (or to no trade)."""
        touched = self.reverse_fee(fee)
        basis, fills = self.fee_targets(fee)
        if not fills:
            self._allocation(fee, None, None, "unallocated", fee["amount"])
            self._refresh_fills(touched)
            return f"fee {fee['activity_id']} {fee['amount']}: unallocated"
        for fill, share in zip(fills, pro_rata(fee["amount"], [f["qty"] for f in fills]),
                               strict=True):
            self._allocation(fee, fill["id"], fill["trade_journal_id"], basis, share)
        self._refresh_fills(touched | {int(f["id"]) for f in fills})
        trades = sorted({int(f["trade_journal_id"]) for f in fills})
        return (f"fee {fee['activity_id']} {fee['amount']} ({basis}) on trade "
                + ", ".join(f"#{t}" for t in trades))

    def reverse_fee(self, fee: Row) -> set[int]:
        """Net every allocation of the fee to zero; the fills touched (still existing)."""
        held = self.db.execute_query(
            QUERIES["fee_held_allocations"], [fee["id"]])
        for h in held:
            self._allocation(fee, h["fill_id"], h["trade_journal_id"], "reversal", -h["amount"])
        return {int(h["fill_id"]) for h in held if h["fill_id"] is not None}

    def refresh_fee_fills(self, fill_ids: set[int]) -> None:
        self._refresh_fills(fill_ids)

    def _allocation(self, fee: Row, fill_id: int | None, trade_id: int | None, basis: str,
                    amount: Decimal) -> None:
        self.db.insert("fee_allocation", {
            "run_id": self.run_id, "fee_activity_id": fee["id"], "fill_id": fill_id,
            "trade_journal_id": trade_id, "basis": basis, "amount": amount})

    def _refresh_fills(self, fill_ids: set[int]) -> None:
        if fill_ids:
            self.db.execute_update(
                QUERIES["fee_refresh_fills"],
                [self.run_id, sorted(fill_ids)])

    def fees_to_reallocate(self) -> list[Row]:
        """Fees that count but whose allocations on existing fills do not add up to them: an
        unallocated one, or one whose stand-in fill gave way to the real executions."""
        return self.db.execute_query(
            QUERIES["fees_to_reallocate"])

    # -- trades -----------------------------------------------------------------------------

    def true_up_trade_fees(self) -> list[str]:
        """Each trade's `fees` is its fills' fees; a closed trade's P&L moves by the change
        (also for a trade closed with fees 0 while its fills carried some: a close found by
        reconciliation)."""
        rows = self.db.execute_query(
            QUERIES["fee_true_up_trades"], [self.run_id])
        done = []
        for r in rows:
            text = (f"trade #{r['id']} {r['symbol']}: fees {r['fees']}"
                    + (f", P&L {r['actual_pnl']} net of them" if r["status"] == "CLOSED" else ""))
            log_event(self.db, self.run_id, "trade_journal", r["id"], "fees", text)
            done.append(text)
        return done


def pro_rata(amount: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """`amount` split by `weights`, to the micro-dollar; the last share takes the rounding,
    so the shares add up to the amount exactly."""
    total = sum(weights, ZERO)
    shares = [(amount * w / total).quantize(PLACES, ROUND_HALF_EVEN) for w in weights[:-1]]
    return [*shares, amount - sum(shares, ZERO)]
