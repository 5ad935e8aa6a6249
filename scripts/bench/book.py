"""Decisions written as n8n writes them, and books built from them through the executor."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.db.connection import TradingDB
from trading_monitor.order_executor.service import execute_once
from trading_monitor.order_monitor.service import monitor_once
from trading_monitor.settings.config import Settings

from .lab import BATCH, PRICE, SYMBOLS, Exchange


def add_decision(db: TradingDB, symbol: str, *, limit: Decimal, stop: Decimal,
                 target: Decimal | None, style: str = "SWING", qty: int = 1,
                 created_at: datetime | None = None) -> int:
    body: dict[str, Any] = {
        "ticker": symbol, "primary_action": "NEW_TRADE", "side": "BUY", "trade_style": style,
        "entry_price": str(limit), "stop_loss": str(stop), "quantity": qty}
    if target is not None:
        body["take_profit"] = str(target)
    decision_id = db.insert("analysis_decision", {"ticker": symbol, "primary_action": "NEW_TRADE",
                                                  "decision": body})
    if created_at is not None:  # written as n8n would at that (simulated) moment
        db.execute_update("UPDATE analysis_decision SET created_at = %s WHERE id = %s",
                          [created_at, decision_id])
    return decision_id


def build_book(params: dict[str, Any], ex: Exchange, settings: Settings, broker: AlpacaBroker,
               limits: list[Decimal], *, protect: bool = False, qty: int = 1) -> list[int]:
    """One buy per limit price (stop 3 below it, target 10 above the market), on the symbols
    in turn, `BATCH` per executor cycle with a second of exchange time between cycles: on a
    stepped clock every order of a cycle has one submission time, and more than 500 open
    orders sharing one cannot be paged. `protect` runs the order monitor after each batch
    (filled staged entries get their stops in batches too). Returns the decision ids."""
    ids: list[int] = []
    with TradingDB(config=params) as db:
        for start in range(0, len(limits), BATCH):
            for i in range(start, min(len(limits), start + BATCH)):
                ids.append(add_decision(db, SYMBOLS[i % len(SYMBOLS)], limit=limits[i],
                                        stop=limits[i] - 3, target=PRICE + 10, qty=qty))
            report = execute_once(params, broker, settings, now=ex.now)
            assert report.count("EXECUTED") == min(BATCH, len(limits) - start), report.outcomes
            if protect:
                monitor_once(params, broker, settings, now=ex.now)
            ex.advance(1)
    return ids
