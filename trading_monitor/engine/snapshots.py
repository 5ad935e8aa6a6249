"""Broker snapshots (seed 001): the account, positions and open orders as the broker saw
them, at the start of a trading day, at each change of reconciliation status, and after
the close.

The START snapshot also fixes the day's loss baseline (`daily_equity.start_equity`): the
previous close, Alpaca's `last_equity`, whichever job takes it first. It used to be the
equity of the day's first position-monitor run, so every loss overnight and before that run
went uncounted (safety review R6).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from trading_monitor.broker.models import BrokerAccount, BrokerOrder, BrokerPosition
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.pg import Json
from trading_monitor.db.queries import Queries
from trading_monitor.domain.market_time import new_york_time

QUERIES = Queries(__name__)  # queries.sql beside this module


def start_of(trading_day: date) -> datetime:
    return new_york_time(trading_day)


def has_snapshot(db: TradingDB, kind: str, trading_day: date) -> bool:
    return bool(db.execute_query(
        QUERIES["snapshots_taken"], [kind, trading_day]))


def record_snapshot(db: TradingDB, run_id: str, kind: str, trading_day: date,
                    account: BrokerAccount,
                    positions: list[BrokerPosition] | tuple[BrokerPosition, ...],
                    orders: list[BrokerOrder] | None = None, status: str | None = None,
                    discrepancies: list[dict[str, Any]] | None = None) -> None:
    if kind == "START":
        fix_day_baseline(db, run_id, trading_day, account)
    db.insert("broker_snapshot", {
        "run_id": run_id, "snapshot_type": kind, "trading_day": trading_day,
        "cash": account.cash,
        "equity": account.equity, "buying_power": account.buying_power,
        "positions": Json([{"symbol": p.symbol, "qty": str(p.qty),
                            "avg_entry_price": str(p.avg_entry_price)} for p in positions]),
        "open_orders": Json([{"id": o.id, "client_order_id": o.client_order_id,
                              "symbol": o.symbol, "side": o.side, "type": o.order_type,
                              "qty": str(o.qty), "status": o.status} for o in orders or []]),
        "reconciliation_status": status,
        "discrepancies": Json(discrepancies) if discrepancies is not None else None,
    })


def fix_day_baseline(db: TradingDB, run_id: str, trading_day: date,
                     account: BrokerAccount) -> None:
    """The day's loss is measured from the previous close: overwrite whatever an earlier
    writer stored (the position monitor's equity marks insert the row with the equity of
    the moment when they come first)."""
    db.execute_update(
        QUERIES["snapshots_start_equity"], [trading_day, account.last_equity, run_id])


def loss_baseline(db: TradingDB, trading_day: date, account: BrokerAccount,
                  cash_flow: Decimal = Decimal(0)) -> Decimal:
    """What the day's loss is measured from: the previous close (the stored baseline, else
    Alpaca's `last_equity`) plus today's deposits less withdrawals (`cash_flow`, from
    domain.risk.net_cash_flow), so money moved in or out is neither a gain nor a loss."""
    rows = db.named("start_equity", {"trading_day": trading_day})
    start = rows[0]["start_equity"] if rows else account.last_equity
    return Decimal(start) + cash_flow
