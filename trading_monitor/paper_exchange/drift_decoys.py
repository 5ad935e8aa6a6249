"""The drift switch's decoys: objects with enum values nobody has seen, only in answers.

They are built fresh for each answer from fixed ids, so they take nothing from the seeded
id generator, never enter the book, and cannot be fetched, cancelled or closed. All their
unknown values start with "quantum" (or "QUANTUM"), so a log line naming one is plainly ours.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

_NAMESPACE = uuid.UUID("9d2b6f0e-5a3c-4e71-8b1d-3c7a9e4f2d68")
ORDER_ID = str(uuid.uuid5(_NAMESPACE, "order"))
ACTIVITY_UUID = str(uuid.uuid5(_NAMESPACE, "activity"))
ORDER_STATUS = "quantum_pending"
ORDER_CLASS = "quantum"
ORDER_SYMBOL = "QDRFT"  # a symbol no test or scenario trades
ASSET_CLASS = "quantum_equity"
POSITION_SYMBOL = "912797QX8"  # CUSIP-like, as a non-equity symbol would be
ACTIVITY_TYPE = "QUANTUM"


def _ts(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def order(now: datetime) -> dict[str, Any]:
    """An order whose status and class no client knows; a complete Alpaca order otherwise."""
    stamp = _ts(now)
    return {
        "id": ORDER_ID, "client_order_id": "quantum-decoy", "created_at": stamp,
        "updated_at": stamp, "submitted_at": stamp, "filled_at": None, "expired_at": None,
        "expires_at": None, "canceled_at": None, "failed_at": None, "replaced_at": None,
        "replaced_by": None, "replaces": None,
        "asset_id": str(uuid.uuid5(_NAMESPACE, ORDER_SYMBOL)), "symbol": ORDER_SYMBOL,
        "asset_class": "us_equity", "notional": None, "qty": "1", "filled_qty": "0",
        "filled_avg_price": None, "order_class": ORDER_CLASS, "order_type": "limit",
        "type": "limit", "side": "buy", "position_intent": "buy_to_open",
        "time_in_force": "day", "limit_price": "1", "stop_price": None,
        "status": ORDER_STATUS, "extended_hours": False, "legs": None, "trail_percent": None,
        "trail_price": None, "hwm": None, "subtag": None, "source": None,
    }


def position() -> dict[str, Any]:
    """A long position of an asset class no client knows, in a symbol nobody trades."""
    return {
        "asset_id": str(uuid.uuid5(_NAMESPACE, POSITION_SYMBOL)), "symbol": POSITION_SYMBOL,
        "exchange": "", "asset_class": ASSET_CLASS, "asset_marginable": False,
        "qty": "1000", "qty_available": "1000", "avg_entry_price": "0.98", "side": "long",
        "market_value": "990", "cost_basis": "980", "unrealized_pl": "10",
        "unrealized_plpc": "0.0102041", "unrealized_intraday_pl": "0",
        "unrealized_intraday_plpc": "0", "current_price": "0.99", "lastday_price": "0.99",
        "change_today": "0",
    }


def activity(now: datetime) -> dict[str, Any]:
    """A non-trade activity of a type no client knows, with an id in Alpaca's format."""
    stamp = now.astimezone(timezone.utc).strftime("%Y%m%d%H%M%S%f")[:-3]
    return {
        "id": f"{stamp}::{ACTIVITY_UUID}", "activity_type": ACTIVITY_TYPE,
        "activity_sub_type": "QUANTUM_REBATE", "date": now.date().isoformat(),
        "created_at": _ts(now), "net_amount": "0.01", "currency": "USD",
        "description": "decoy activity of the paper exchange's drift switch",
        "status": "executed", "symbol": None, "qty": None, "per_share_amount": None,
    }


def _until_passed(query: Mapping[str, str], now: datetime) -> bool:
    raw = query.get("until")
    if not raw:
        return False
    try:
        until = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        return False
    return (until if until.tzinfo else until.replace(tzinfo=timezone.utc)) <= now


def _wanted(query: Mapping[str, str], decoy: dict[str, Any], now: datetime) -> bool:
    """Would the query's own filters have listed the decoy? Only then does it appear."""
    symbols = {s.strip().upper() for s in query.get("symbols", "").split(",") if s.strip()}
    if symbols and decoy.get("symbol") not in symbols:
        return False
    if query.get("side") and query["side"].lower() != decoy.get("side"):
        return False
    return not query.get("date") and not _until_passed(query, now)


def place(query: Mapping[str, str], items: list[Any], now: datetime,
          make: Callable[[datetime], dict[str, Any]], shaped: Callable[[Any], Any],
          limit_name: str, default_limit: int) -> list[Any]:
    """Add the decoy to a list answer where it cannot upset paging.

    Only a page with room under its limit gets it (a full page would push one of our own
    objects to the next page, or hand its id out as a page token); it is the newest object,
    so it leads a descending list and ends an ascending one.
    """
    raw = query.get(limit_name, "")
    limit = int(raw) if raw.isdigit() else default_limit
    decoy = make(now)
    if len(items) >= limit or not _wanted(query, decoy, now):
        return items
    if query.get("direction", "desc").lower() == "asc":
        return [*items, shaped(decoy)]
    return [shaped(decoy), *items]
