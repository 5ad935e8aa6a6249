"""Our rows of open trades, read in three queries, as the domain's TradeState."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from trading_monitor.db.connection import Row, TradingDB
from trading_monitor.domain.lifecycle import OrderRole, Purpose, TradeStatus
from trading_monitor.domain.trade_state import Fill, OrderView, TradeState
from trading_monitor.engine.context import Monitor


@dataclass(frozen=True)
class LoadedTrade:
    journal: Row
    orders: tuple[Row, ...]
    state: TradeState
    fill_rows: tuple[Row, ...] = ()
    position: Row | None = None

    def order_row(self, row_id: int) -> Row:
        return next(r for r in self.orders if r["id"] == row_id)


def load_trades(db: TradingDB, ids: list[int]) -> list[LoadedTrade]:
    if not ids:
        return []
    journals = db.named("trades_by_ids", {"ids": ids})
    orders: dict[int, list[Row]] = defaultdict(list)
    for row in db.named("orders_of_trades", {"ids": ids}):
        orders[int(row["trade_journal_id"])].append(row)
    fills: dict[int, list[Row]] = defaultdict(list)
    for row in db.named("fills_of_trades", {"ids": ids}):
        fills[int(row["trade_journal_id"])].append(row)
    positions = {int(r["trade_journal_id"]): r for r in db.named("positions_of_trades",
                                                                  {"ids": ids})}
    return [_loaded(j, orders[j["id"]], fills[j["id"]], positions.get(j["id"]))
            for j in journals]


def _loaded(journal: Row, orders: list[Row], fills: list[Row], position: Row | None
            ) -> LoadedTrade:
    views = [_view(r) for r in orders]
    entries = [v for v in views if v.role is OrderRole.ENTRY]
    by_order = {r["alpaca_order_id"]: v for r, v in zip(orders, views, strict=True)
                if r["alpaca_order_id"]}
    state = TradeState(
        journal_id=int(journal["id"]), status=TradeStatus(journal["status"]),
        side=journal["side"], trade_style=journal["trade_style"],
        protection_mode=journal["protection_mode"],
        planned_entry=journal["planned_entry_price"], planned_stop=journal["planned_stop_loss"],
        planned_take=journal["planned_take_profit"], first_fill_at=journal["first_fill_at"],
        protected_at=journal["protected_at"],
        entry=entries[-1] if entries else None,
        exits=tuple(v for v in views if v.role is not OrderRole.ENTRY),
        fills=tuple(_fill(f, by_order.get(f["alpaca_order_id"])) for f in fills),
        adopted=(journal["actual_qty"], journal["actual_entry_price"])
        if journal["origin"] == "EXTERNAL" else None,
        booked=(position["qty"], journal["actual_entry_price"]) if position else None,
    )
    return LoadedTrade(journal, tuple(orders), state, tuple(fills), position)


def _view(r: Row) -> OrderView:
    return OrderView(
        row_id=int(r["id"]), client_order_id=r["client_order_id"],
        role=OrderRole(r["order_role"]), purpose=Purpose(r["purpose"]),
        status=r["order_status"], qty=r["qty"], filled_qty=r["filled_qty"] or Decimal(0),
        order_class=r["order_class"], time_in_force=r["time_in_force"],
        stop_price=r["stop_price"], limit_price=r["limit_price"],
        parent_row_id=r["parent_order_execution_id"], alpaca_order_id=r["alpaca_order_id"],
        expires_at=r["expires_at"], entry_expires_at=r.get("entry_expires_at"))


def _fill(f: Row, order: OrderView | None) -> Fill:
    return Fill(order_id=f["alpaca_order_id"],
                role=order.role if order else OrderRole.EXIT,
                purpose=order.purpose if order else Purpose.ENTRY,
                qty=f["qty"], price=f["price"], at=f["filled_at"], fee=f["fee"] or Decimal(0))


def with_pending(trade: LoadedTrade, orders: dict[int, Row], fills: list[Row]) -> LoadedTrade:
    """The trade as it will be once a dry run's unwritten sync is applied: order rows as the
    broker shows them, and the fills the feed brought (a dry run writes neither)."""
    rows = [orders.get(int(r["id"]), r) for r in trade.orders]
    known = {(f["alpaca_order_id"], f["cum_qty"]) for f in trade.fill_rows}
    extra = [f for f in fills if f["trade_journal_id"] == trade.state.journal_id
             and (f["alpaca_order_id"], f["cum_qty"]) not in known]
    # A stand-in gives way to the real executions (ledger/fills.py), here as there.
    real = {f["alpaca_order_id"] for f in extra}
    kept = [f for f in trade.fill_rows
            if not (f["source"] == "order" and f["alpaca_order_id"] in real)]
    return _loaded(trade.journal, rows, [*kept, *extra], trade.position)


def open_trades(m: Monitor) -> list[LoadedTrade]:
    trades = load_trades(m.db, [int(r["id"]) for r in m.db.named("open_trade_ids")])
    if m.pending_orders or m.pending_fills:  # a dry run decides on what it would have written
        trades = [with_pending(t, m.pending_orders, m.pending_fills) for t in trades]
    return trades
