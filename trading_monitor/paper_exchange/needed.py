"""The fields of Alpaca's bodies our client needs, as the exchange's drift switch knows them.

A copy of trading_monitor/broker/needed.py's NEEDED, so that the exchange imports nothing of
the product; tests/paper_exchange/test_drift.py pins the two equal.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# Keyed by the kind of object; `convert` names the endpoint it came from in its errors.
NEEDED: Mapping[str, frozenset[str]] = MappingProxyType({
    "order": frozenset({
        "id", "client_order_id", "symbol", "side", "qty", "type", "order_class",
        "time_in_force", "status", "filled_qty", "filled_avg_price", "limit_price",
        "stop_price", "submitted_at", "replaced_by", "replaces",
        # Null for a simple order; a bracket read without them would look unprotected.
        "legs",
    }),
    "position": frozenset({"symbol", "qty", "side", "avg_entry_price", "asset_class"}),
    "account": frozenset({
        "id", "status", "equity", "last_equity", "cash", "buying_power", "trading_blocked",
        "account_blocked",
    }),
    "asset": frozenset({"symbol", "class", "status", "tradable", "shortable"}),
    "clock": frozenset({"timestamp", "is_open", "next_open", "next_close"}),
    "calendar": frozenset({"date", "open", "close"}),
    "fill_activity": frozenset({
        "id", "activity_type", "order_id", "symbol", "side", "qty", "price",
        "transaction_time",
    }),
    "activity": frozenset({"id", "activity_type"}),
    "trade_update": frozenset({"event", "order"}),
    "latest_trade": frozenset({"p", "t"}),
    "quote": frozenset({"bp", "ap"}),
    "bar": frozenset({"t", "v"}),
    "corporate_action": frozenset({"id", "symbol"}),
})
