"""The seed's plan (seed 002, TASK-011 and TASK-014), for comparison only: poll Alpaca once
per pending order and once per open position, on its own copy of the tracking rows. It lives
here, in the benchmark, never in the product."""

from __future__ import annotations

from typing import Any

from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.db.connection import TradingDB
from trading_monitor.domain.lifecycle import FINAL_ORDER_STATUSES

BASELINE_TABLES = """
CREATE TABLE IF NOT EXISTS bench_seed_order (alpaca_order_id text PRIMARY KEY, status text);
CREATE TABLE IF NOT EXISTS bench_seed_position (id integer PRIMARY KEY, symbol text,
                                                current_price numeric);
"""


def baseline_snapshot(params: dict[str, Any]) -> None:
    """The seed's own tracking rows, copied from ours as the book stands (the seed keeps one
    status per order and one price per position; it writes them here, never in our rows)."""
    with TradingDB(config=params) as db:
        db.execute_update(BASELINE_TABLES)
        db.execute_update("TRUNCATE bench_seed_order, bench_seed_position")
        db.execute_update(
            "INSERT INTO bench_seed_order SELECT alpaca_order_id, order_status "
            "FROM order_execution WHERE alpaca_order_id IS NOT NULL "
            "AND parent_order_execution_id IS NULL AND NOT (order_status = ANY(%s))",
            [sorted(FINAL_ORDER_STATUSES)])
        db.execute_update("INSERT INTO bench_seed_position SELECT id, symbol, current_price "
                          "FROM position_tracking")


def baseline_order_poll(params: dict[str, Any], broker: AlpacaBroker) -> int:
    """TASK-011 as planned: every pending order read by id (with its legs), each change
    written. Returns the orders that changed."""
    changed = 0
    with TradingDB(config=params) as db:
        pending = db.execute_query(
            "SELECT alpaca_order_id, status FROM bench_seed_order "
            "WHERE NOT (status = ANY(%s)) ORDER BY alpaca_order_id",
            [sorted(FINAL_ORDER_STATUSES)])
        for row in pending:
            order = broker.get_order(row["alpaca_order_id"])
            if order is not None and order.status != row["status"]:
                db.execute_update("UPDATE bench_seed_order SET status = %s "
                                  "WHERE alpaca_order_id = %s", [order.status, order.id])
                changed += 1
    return changed


def baseline_position_poll(params: dict[str, Any], broker: AlpacaBroker) -> int:
    """TASK-014 as planned: every open position's symbol priced by its own request, each
    price written. Returns the positions priced."""
    with TradingDB(config=params) as db:
        rows = db.execute_query("SELECT id, symbol FROM bench_seed_position ORDER BY id")
        for row in rows:
            price = broker.latest_prices([row["symbol"]]).get(row["symbol"])
            db.execute_update("UPDATE bench_seed_position SET current_price = %s WHERE id = %s",
                              [price, row["id"]])
    return len(rows)
