"""Corporate actions in the books: announcements stored, and a split or symbol change applied
to one trade once (idempotent per action id and trade).

A split restates the trade in split-adjusted terms, the way price histories are adjusted: its
fills from before the split (quantity x ratio, price / ratio, so every fill keeps its value),
its finished orders likewise, the journal's quantities, average entry (exact, never rounded),
planned entry, stop (on Alpaca's tick, rounded so the risk per share never grows) and target,
and the position row's quantity, average, mark and high-water mark. The books before are kept
in the action's row and every change is in event_log with the ratio. Cash in lieu of a
fraction is booked as a fill of the fraction at its cash price, so it is in the trade's P&L.
A new symbol is written on the trade's rows: the same trade, not a close and an adoption.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from trading_monitor.db.connection import Row
from trading_monitor.db.pg import Json
from trading_monitor.db.queries import Queries
from trading_monitor.domain.corporate import Announcement
from trading_monitor.domain.lifecycle import PENDING_SUBMIT, OrderRole, Purpose
from trading_monitor.domain.sides import Side
from trading_monitor.domain.ticks import nearest_tick, protective_stop
from trading_monitor.ledger.protection import ProtectionBooks
from trading_monitor.ledger.runs import log_event

FINISHED = ("filled", "canceled", "expired", "replaced", "rejected", "done_for_day")

QUERIES = Queries(__name__)


@dataclass(frozen=True)
class Adjustment:
    action: Announcement
    qty_before: Decimal  # the trade's position before, in old shares
    qty_after: Decimal  # after, as the broker holds it (whole shares if a fraction was paid)
    since: datetime  # fills before this moment are from before the split
    qty_since: Decimal = Decimal(0)  # net shares the trade traded since the split (new shares)
    cash_qty: Decimal = Decimal(0)  # the fraction paid as cash in lieu
    cash_price: Decimal | None = None
    cash_activity_id: str | None = None
    cash_estimated: bool = False  # no CIL activity yet: priced at the mark


class CorporateBooks(ProtectionBooks):
    def store_announcement(self, a: Announcement, source: str = "announcement") -> bool:
        """True when it is new to us."""
        rows = self.db.execute_query(
            QUERIES["corporate_action_store"],
            [self.run_id, a.id, a.kind, a.symbol, a.new_symbol, a.old_rate, a.new_rate,
             a.effective, source])
        return bool(rows)

    def actions_between(self, first: date, last: date) -> list[Row]:
        return self.db.execute_query(
            QUERIES["corporate_actions_between"], [first, last])

    def mark_alerted(self, action_id: str) -> None:
        self.db.execute_update(QUERIES["corporate_action_alerted"],
                               [self.now(), self.run_id, action_id])

    def adjustments_to_reprice(self) -> list[Row]:
        return self.db.execute_query(
            QUERIES["corporate_adjustments_to_reprice"])

    def mark_repriced(self, row: Row, note: str) -> None:
        self.db.update("corporate_action_trade", row["id"], {"run_id": self.run_id,
                                                             "repriced_at": self.now()})
        log_event(self.db, self.run_id, "trade_journal", row["trade_journal_id"],
                  "corporate_action", note, detail={"action_id": row["action_id"]})

    def apply_adjustment(self, journal: Row, position: Row | None, adj: Adjustment) -> bool:
        """Apply once; False when this action was already applied to this trade."""
        a, jid = adj.action, journal["id"]
        ratio = a.ratio
        after = a.new_symbol if a.renames and a.new_symbol else journal["symbol"]
        before = _books(journal, position)
        with self.db.transaction():
            rows = self.db.execute_query(
                QUERIES["corporate_action_trade_insert"],
                [self.run_id, a.id, jid, ratio, adj.qty_before, adj.qty_after,
                 _cash(adj), journal["symbol"], after, self.now(), Json(before)])
            if not rows:
                return False
            if ratio != 1:
                self._split(journal, position, adj)
            if after != journal["symbol"]:
                self._rename(jid, journal["symbol"], after)
            if adj.cash_qty > 0 and adj.cash_price is not None:
                self._cash_in_lieu(journal, after, adj)
            if adj.cash_qty < 0 and adj.cash_price is not None:
                self._fraction_bought(journal, adj)
            log_event(self.db, self.run_id, "trade_journal", jid, "corporate_action",
                      f"trade #{jid}: {a.describe()} applied: {adj.qty_before} → "
                      f"{adj.qty_after} shares (ratio {ratio.normalize()})",
                      detail={"action_id": a.id, "kind": a.kind, "ratio": str(ratio),
                              "before": before, "after": _books(
                                  self.db.get_by_id("trade_journal", jid) or {},
                                  _position(self, jid))})
        return True

    def _split(self, journal: Row, position: Row | None, adj: Adjustment) -> None:
        # Multiplied before divided (Announcement.scale): a 1-for-3 leaves 6 of 18, not 5.999…
        # Each row in Python, as the split's other quantities: one arithmetic, one precision.
        a, jid, side = adj.action, journal["id"], journal["side"]
        for f in self.db.execute_query(QUERIES["split_fills"], {"trade": jid, "since": adj.since}):
            self.db.execute_update(QUERIES["split_fill_restated"], {
                "id": f["id"], "qty": a.scale(f["qty"]), "price": a.unscale(f["price"]),
                "run_id": self.run_id})
        for o in self.db.execute_query(QUERIES["split_finished_orders"],
                                       {"trade": jid, "finished": list(FINISHED)}):
            self.db.update("order_execution", o["id"], {
                "run_id": self.run_id, "qty": a.scale(o["qty"]),
                "filled_qty": a.scale(o["filled_qty"]),
                "filled_avg_price": _maybe(a.unscale, o["filled_avg_price"]),
                "limit_price": _maybe(a.unscale, o["limit_price"]),
                "stop_price": _maybe(a.unscale, o["stop_price"])})
        stop, take = journal["planned_stop_loss"], journal["planned_take_profit"]
        self.db.update("trade_journal", jid, {
            "run_id": self.run_id,
            "actual_qty": _maybe(a.scale, journal["actual_qty"]),
            "actual_entry_price": _maybe(a.unscale, journal["actual_entry_price"]),
            "planned_qty": _maybe(a.scale, journal["planned_qty"]),
            "planned_entry_price": _maybe(a.unscale, journal["planned_entry_price"]),
            "planned_stop_loss": None if stop is None else protective_stop(side,
                                                                           a.unscale(stop)),
            "planned_take_profit": None if take is None else nearest_tick(a.unscale(take))})
        if position is not None:
            self.db.update("position_tracking", position["id"], {
                "run_id": self.run_id, "qty": adj.qty_after + adj.qty_since,
                "avg_entry_price": a.unscale(position["avg_entry_price"]),
                "current_price": _maybe(a.unscale, position["current_price"]),
                "high_water_mark": _maybe(a.unscale, position["high_water_mark"])})

    def _rename(self, jid: int, old: str, new: str) -> None:
        """The trade's rows carried to the new symbol (params: new, run_id, trade, old)."""
        for statement in (QUERIES["rename_trade_journal"], QUERIES["rename_position_tracking"],
                          QUERIES["rename_order_execution"], QUERIES["rename_fills"]):
            self.db.execute_update(statement, [new, self.run_id, jid, old])

    def _cash_in_lieu(self, journal: Row, symbol: str, adj: Adjustment) -> None:
        assert adj.cash_price is not None
        self.db.execute_query(
            QUERIES["cash_in_lieu_fill"],
            [self.run_id, f"cil:{adj.action.id}", journal["id"], adj.cash_activity_id, symbol,
             Side.of(journal["side"]).exit.value, adj.cash_qty, adj.cash_qty,
             adj.cash_price, adj.since])
        log_event(self.db, self.run_id, "trade_journal", journal["id"], "cash_in_lieu",
                  f"trade #{journal['id']}: cash in lieu of {adj.cash_qty} {symbol} at "
                  f"{adj.cash_price}" + (" (estimated at the mark: no CIL activity yet)"
                                         if adj.cash_estimated else ""),
                  detail={"action_id": adj.action.id, "qty": str(adj.cash_qty),
                          "price": str(adj.cash_price), "activity_id": adj.cash_activity_id})

    def _fraction_bought(self, journal: Row, adj: Adjustment) -> None:
        """The fraction this trade holds beyond its exact split share, given up by another of
        our trades in the symbol: bought at the cash-in-lieu price, folded into the last
        entry fill (and the entry's average), so the trade's fills sum to what it holds."""
        assert adj.cash_price is not None
        x, jid, price = -adj.cash_qty, journal["id"], adj.cash_price
        fills = self.db.execute_query(
            QUERIES["split_entry_fills_latest_first"], [jid])
        if not fills:
            return
        last = fills[0]
        qty = sum((f["qty"] for f in fills), Decimal(0))
        avg = (sum((f["qty"] * f["price"] for f in fills), Decimal(0)) + x * price) / (qty + x)
        self.db.execute_update(
            QUERIES["split_fraction_into_fill"], [x, price, x, x, self.run_id, last["id"]])
        self.db.execute_update(
            QUERIES["split_fraction_into_order"], [x, price, x, x, self.run_id, last["order_id"]])
        fresh = self.db.get_by_id("trade_journal", jid) or {}
        self.db.update("trade_journal", jid, {
            "run_id": self.run_id, "actual_entry_price": avg,
            "actual_qty": None if fresh.get("actual_qty") is None else fresh["actual_qty"] + x})
        self.db.execute_update(QUERIES["split_fraction_position_avg"], [avg, self.run_id, jid])
        log_event(self.db, self.run_id, "trade_journal", jid, "cash_in_lieu",
                  f"trade #{jid}: {x} {adj.action.new_symbol or adj.action.symbol} more than "
                  f"its exact split share (the broker rounds the whole position), bought from "
                  f"another of our trades at the cash-in-lieu price {price}",
                  detail={"action_id": adj.action.id, "qty": str(-x), "price": str(price)})

    def reprice_cash_in_lieu(self, fill: Row, price: Decimal, activity_id: str,
                             delta: Decimal) -> None:
        """An estimated cash-in-lieu fill re-priced by its CIL activity; a trade already
        closed has its P&L corrected by `delta` (closed by the cash in lieu alone: its exit
        price too). The caller holds the transaction and writes the event."""
        self.db.execute_update(QUERIES["cash_in_lieu_reprice"],
                               [price, activity_id, self.run_id, fill["id"]])
        if fill["status"] == "CLOSED" and delta:
            self.db.execute_update(QUERIES["cash_in_lieu_correct_pnl"],
                                   [delta, self.run_id, price, fill["trade_journal_id"]])

    def write_reprice_intent(self, journal: Row, installation: str, old: Row, *, qty: Decimal,
                             stop_price: Decimal | None, limit_price: Decimal | None) -> Row:
        """The order a PATCH of a protective order will become at its split-adjusted price,
        committed before the PATCH is sent (as trailing's replacement intent)."""
        role = OrderRole(old["order_role"])
        with self.db.transaction():
            row_id = self.db.insert("order_execution", {
                "run_id": self.run_id, "trade_journal_id": journal["id"],
                "analysis_decision_id": old["analysis_decision_id"], "symbol": journal["symbol"],
                "side": old["side"], "time_in_force": old["time_in_force"], "qty": qty,
                "order_status": PENDING_SUBMIT, "order_role": role.value,
                "order_type": old["order_type"], "order_class": old["order_class"],
                "stop_price": stop_price, "limit_price": limit_price,
                "parent_order_execution_id": old["parent_order_execution_id"],
                "purpose": Purpose.PROTECTION.value, "replaces_order_execution_id": old["id"],
                "client_order_id": self._next_id(journal, installation, role)})
            self.db.update("order_execution", old["id"], {
                "run_id": self.run_id, "replaced_by_order_execution_id": row_id})
            log_event(self.db, self.run_id, "trade_journal", journal["id"], "intent_written",
                      f"re-price {old['client_order_id']} after a split: {old['qty']} → {qty}"
                      f" shares, stop {old['stop_price']} → {stop_price}, limit "
                      f"{old['limit_price']} → {limit_price}")
        return self._row(row_id)

    def set_prices(self, row: Row, stop_price: Decimal | None,
                   limit_price: Decimal | None) -> None:
        """The broker already holds the order at these prices (it adjusted it itself)."""
        self.db.update("order_execution", row["id"], {
            "run_id": self.run_id, "stop_price": stop_price, "limit_price": limit_price})


def _position(books: CorporateBooks, jid: int) -> Row | None:
    found = books.db.query("position_tracking", {"trade_journal_id": jid})
    return found[0] if found else None


def _books(journal: Row, position: Row | None) -> dict[str, Any]:
    names = ("symbol", "actual_qty", "actual_entry_price", "planned_qty", "planned_entry_price",
             "planned_stop_loss", "planned_take_profit")
    out: dict[str, Any] = {n: _text(journal.get(n)) for n in names}
    if position is not None:
        out.update({f"position_{n}": _text(position.get(n)) for n in
                    ("qty", "avg_entry_price", "current_price", "high_water_mark", "trail_step")})
    return out


def _text(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def _maybe(change: Callable[[Decimal], Decimal], value: Decimal | None) -> Decimal | None:
    return None if value is None else change(value)


def _cash(adj: Adjustment) -> Decimal | None:
    if adj.cash_qty <= 0 or adj.cash_price is None:
        return None
    return (adj.cash_qty * adj.cash_price).quantize(Decimal("0.01"))
