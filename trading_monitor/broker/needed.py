"""The fields of Alpaca's bodies that the jobs need: the one list of them.

A key listed here must be present in the body (its value may be null where Alpaca's spec
allows null); a missing one is a `BrokerContractError` naming the endpoint and the field.
Every other field is optional: unknown ones are ignored, and a known one that is missing
takes a safe default. The paper exchange's drift switch (`POST /control/drift`) omits
every field not listed here, and docs/paper-exchange.md shows this table.
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

# Where a field is optional but read when present (documented beside NEEDED):
# order: filled_at, updated_at, canceled_at, expired_at, expires_at, created_at;
# position: current_price, market_value, unrealized_pl, qty_available;
# asset: borrow_status (checked for shorts: absent means "borrow status unknown"),
#        easy_to_borrow (only where present);
# fill_activity: cum_qty, leaves_qty, type; trade_update: timestamp, execution_id, price,
# qty, position_qty.
OPTIONAL_READ: Mapping[str, frozenset[str]] = MappingProxyType({
    "order": frozenset({"filled_at", "updated_at", "canceled_at", "expired_at",
                        "expires_at", "created_at"}),
    "position": frozenset({"current_price", "market_value", "unrealized_pl", "qty_available"}),
    "account": frozenset({"long_market_value", "short_market_value"}),
    "asset": frozenset({"borrow_status", "easy_to_borrow", "exchange", "name", "id"}),
    "fill_activity": frozenset({"cum_qty", "leaves_qty", "type"}),
    "trade_update": frozenset({"timestamp", "execution_id", "price", "qty", "position_qty"}),
})


def needed(kind: str) -> frozenset[str]:
    return NEEDED.get(kind, frozenset())
