"""Our books against themselves: journal, orders, fills and positions agree, and each closed
trade's P&L is what its fills say. Pure."""

from __future__ import annotations

from decimal import Decimal

from trading_monitor.db.connection import Row
from trading_monitor.domain.order_status import OrderStatus
from trading_monitor.domain.sides import Side, sign
from trading_monitor.invariants.broker_view import BrokerView
from trading_monitor.invariants.model import (
    INFO,
    VIOLATION,
    WARNING,
    ZERO,
    Books,
    Finding,
    Limits,
    cents,
    trade_label,
)

ENDED = ("CLOSED", "CANCELLED", "EXPIRED", "REJECTED")


def books_agree(books: Books, view: BrokerView | None, limits: Limits) -> list[Finding]:
    """No POSITION journal without its position row (nor a position row without a POSITION
    journal); a position's quantity is its entry fills less its exit fills; no ended trade
    (CLOSED, CANCELLED, EXPIRED, REJECTED) with an order still open, in our rows or at the
    broker. Books settle within one order-monitor poll: fresher disagreements are warnings."""
    found: list[Finding] = []
    for t in books.trades:
        if t["status"] == "POSITION":
            found += _position(books, t, limits)
        elif t["status"] in ENDED:
            found += _ended(books, view, t, limits)
    for p in books.positions:
        trade = books.trade_by_id.get(int(p["trade_journal_id"] or 0))
        if trade is None:
            found.append(Finding("books_agree", VIOLATION,
                                 f"position row #{p['id']} ({p['qty']} {p['symbol']}) names "
                                 f"trade #{p['trade_journal_id']}, which does not exist",
                                 trade_id=p["trade_journal_id"]))
        elif trade["status"] != "POSITION":
            found.append(Finding("books_agree", VIOLATION,
                                 f"{trade_label(trade)} is {trade['status']} but still has a "
                                 f"position row ({p['qty']} shares)", trade_id=int(trade["id"]),
                                 decision_id=trade["initial_analysis_id"]))
    return found + _overbooked_orders(books, limits)


def _overbooked_orders(books: Books, limits: Limits) -> list[Finding]:
    """An order's booked fills never add up to more than the broker filled (a stand-in
    booked from the order and then the feed's executions of the same shares, R1). Within
    a poll of the trade's last activity the order row may still be catching up: a warning."""
    booked: dict[str, Decimal] = {}
    for f in books.fills:
        booked[f["alpaca_order_id"]] = booked.get(f["alpaca_order_id"], ZERO) + f["qty"]
    found = []
    for order_id, qty in sorted(booked.items()):
        o = books.order_by_alpaca.get(order_id)
        if o is None or qty <= (o["filled_qty"] or ZERO):
            continue
        trade = books.trade_by_id.get(int(o["trade_journal_id"] or 0))
        severity = WARNING if trade and _settling(books, trade, limits) else VIOLATION
        found.append(Finding("books_agree", severity,
                             f"{o['client_order_id']}: fills of {qty} shares booked, the broker "
                             f"filled {o['filled_qty'] or 0}", trade_id=o["trade_journal_id"],
                             client_order_id=o["client_order_id"],
                             detail={"booked": str(qty), "filled": str(o["filled_qty"])}))
    return found


def _settling(books: Books, t: Row, limits: Limits) -> bool:
    last = books.last_activity(t)
    return last is not None and limits.now - last < limits.settle_grace


def _position(books: Books, t: Row, limits: Limits) -> list[Finding]:
    severity = WARNING if _settling(books, t, limits) else VIOLATION
    row = books.position_by_trade.get(int(t["id"]))
    ids = {"trade_id": int(t["id"]), "decision_id": t["initial_analysis_id"]}
    if row is None:
        return [Finding("books_agree", severity,
                        f"{trade_label(t)} is POSITION but has no position row", **ids)]
    per_fills = books.position_qty_per_fills(t)
    if row["qty"] != per_fills:
        entry = books.entry_side(t)[0]
        return [Finding("books_agree", severity,
                        f"{trade_label(t)}: the position row holds {row['qty']} shares, its "
                        f"fills {per_fills} ({entry} in, {entry - per_fills} out)",
                        detail={"position_qty": str(row["qty"]), "fills_qty": str(per_fills)},
                        **ids)]
    return []


def _ended(books: Books, view: BrokerView | None, t: Row, limits: Limits) -> list[Finding]:
    open_rows = [o for o in books.orders_by_trade.get(int(t["id"]), [])
                 if OrderStatus(o["order_status"]).may_fill]
    at_broker = []
    if view is not None:
        at_broker = [o for o in view.open_by_id.values()
                     if books.order_by_alpaca.get(o.id, {}).get("trade_journal_id") == t["id"]]
    if not open_rows and not at_broker:
        return []
    ended_at = t["exit_date"]
    severity = VIOLATION
    if ended_at is not None and limits.now - ended_at < limits.orphan_grace:
        severity = WARNING  # the order monitor cancels leftovers after ORPHAN_GRACE_MINUTES
    names = sorted({f"{o['client_order_id']} ({o['order_status']} in our books)"
                    for o in open_rows} | {f"{o.client_order_id} ({o.status} at the broker)"
                                           for o in at_broker})
    first = open_rows[0]["client_order_id"] if open_rows else at_broker[0].client_order_id
    return [Finding("books_agree", severity,
                    f"{trade_label(t)} is {t['status']} but has open orders: "
                    + ", ".join(names), trade_id=int(t["id"]),
                    decision_id=t["initial_analysis_id"], client_order_id=first,
                    detail={"orders": names})]


def pnl_matches_fills(books: Books, limits: Limits) -> list[Finding]:
    """actual_pnl of every CLOSED trade, to the cent, against its fills: (exit - entry) x
    qty for a long, the reverse for a short, less the fills' fees. Shares our exits did not
    close were closed by hand: the trader's fills on that symbol between entry and exit
    price them, as reconciliation did (it now attaches them to the trade). An EXTERNAL close
    at an estimated price is exempt (an info)."""
    found: list[Finding] = []
    for t in books.trades:
        if t["status"] != "CLOSED":
            continue
        ids = {"trade_id": int(t["id"]), "decision_id": t["initial_analysis_id"]}
        if t["exit_estimated"]:
            found.append(Finding("pnl_matches_fills", INFO,
                                 f"{trade_label(t)} closed at an estimated price (no fill "
                                 f"confirms it, {t['exit_reason_code']}): P&L not checked",
                                 **ids))
            continue
        expected, problem = _pnl_from_fills(books, t)
        if problem is not None:
            found.append(Finding("pnl_matches_fills", VIOLATION, f"{trade_label(t)}: {problem}",
                                 **ids))
        elif t["actual_pnl"] is None:
            found.append(Finding("pnl_matches_fills", VIOLATION,
                                 f"{trade_label(t)} is CLOSED without actual_pnl (its fills "
                                 f"give {cents(expected)})", **ids))
        elif cents(expected) != cents(t["actual_pnl"]):
            found.append(Finding("pnl_matches_fills", VIOLATION,
                                 f"{trade_label(t)}: actual_pnl is {cents(t['actual_pnl'])}, "
                                 f"its fills give {cents(expected)}",
                                 detail={"actual_pnl": str(t["actual_pnl"]),
                                         "from_fills": str(cents(expected))}, **ids))
    return found


def _pnl_from_fills(books: Books, t: Row) -> tuple[Decimal, str | None]:
    entry_qty, entry_avg = books.entry_side(t)
    if not entry_qty or entry_avg is None:
        return ZERO, "CLOSED, but no entry fill (nor adopted position) is recorded"
    direction = sign(t["side"])  # the arithmetic below stays the checker's own
    exits = books.exit_fills(t)
    exit_qty = sum((f["qty"] for f in exits), ZERO)
    pnl = sum(((f["price"] - entry_avg) * f["qty"] * direction for f in exits), ZERO)
    rest = entry_qty - exit_qty
    if rest < 0:
        return ZERO, f"exit fills ({exit_qty}) exceed entry fills ({entry_qty})"
    if rest > 0:  # books from before reconciliation attached the trader's fills to the trade
        price = _closed_by_hand(books, t, rest)
        if price is None:
            return ZERO, (f"exit fills close {exit_qty} of {entry_qty} shares and no fill of "
                          "the trader's explains the rest")
        pnl += (price - entry_avg) * rest * direction
    fees = sum((f["fee"] or ZERO for f in books.fills_by_trade.get(int(t["id"]), [])), ZERO)
    return pnl - fees, None


def _closed_by_hand(books: Books, t: Row, rest: Decimal) -> Decimal | None:
    """The average price of fills of no trade, on the exit side of this symbol, from the
    entry to the exit, when they close the rest (how reconciliation priced a hand close)."""
    exit_side = Side.of(t["side"]).exit.value
    start = t["entry_date"] or t["created_at"]
    mine = [f for f in books.fills if f["trade_journal_id"] is None
            and f["symbol"] == t["symbol"] and f["side"] == exit_side
            and f["filled_at"] >= start and (t["exit_date"] is None
                                             or f["filled_at"] <= t["exit_date"])]
    qty = sum((f["qty"] for f in mine), ZERO)
    return sum((f["qty"] * f["price"] for f in mine), ZERO) / qty if qty >= rest else None
