"""Example decisions, one per action (the same ones docs/decision-contract.md shows)."""

from __future__ import annotations

from typing import Any

from trading_monitor.db.connection import TradingDB

# Where the paper exchange starts these symbols (the exchange owns the list).
from trading_monitor.paper_exchange.demo_prices import DEMO_PRICES as DEMO_PRICES

EXAMPLES: list[dict[str, Any]] = [
    {"ticker": "AAPL", "primary_action": "NEW_TRADE", "decision": {
        "ticker": "AAPL", "primary_action": "NEW_TRADE", "side": "BUY", "trade_style": "SWING",
        "entry_price": "180.00", "stop_loss": "171.00", "take_profit": "198.00",
        "quantity": 10, "reasoning": "breakout retest"}},
    {"ticker": "MSFT", "primary_action": "NEW_TRADE", "decision": {
        "ticker": "MSFT", "primary_action": "NEW_TRADE", "side": "SELL",
        "trade_style": "DAYTRADE", "entry_price": "420.00", "stop_loss": "426.00",
        "risk_amount": "300", "reasoning": "failed gap fill"}},
    {"ticker": "NVDA", "primary_action": "NEW_TRADE", "decision": {
        "ticker": "NVDA", "primary_action": "NEW_TRADE", "side": "BUY", "trade_style": "SWING",
        "entry_price": "130.00", "quantity": 5, "reasoning": "stop loss forgotten upstream"}},
    {"ticker": "AAPL", "primary_action": "NO_ACTION", "decision": {
        "ticker": "AAPL", "primary_action": "NO_ACTION", "reasoning": "thesis intact"}},
    {"ticker": "AAPL", "primary_action": "AMEND", "existing_trade_journal_id": 1, "decision": {
        "ticker": "AAPL", "primary_action": "AMEND", "side": "BUY", "trade_style": "SWING",
        "entry_price": "178.50", "stop_loss": "170.00", "take_profit": "196.00", "quantity": 10,
        "existing_trade_journal_id": 1, "reasoning": "lower the entry"}},
    {"ticker": "AAPL", "primary_action": "CANCEL", "existing_trade_journal_id": 3, "decision": {
        "ticker": "AAPL", "primary_action": "CANCEL", "existing_trade_journal_id": 3,
        "reasoning": "earnings moved up"}},
]


def seed_examples(db: TradingDB) -> list[int]:
    return [db.insert("analysis_decision", row) for row in EXAMPLES]
