"""Symbols that look halted (system_state `symbols_halted`, kept by the position monitor's
halt watch, position_monitor/halt_watch.py): what the executor, `status` and `health` read."""

from __future__ import annotations

import json

from trading_monitor.commands.health_base import OK, WARNING, Check, Context
from trading_monitor.db_layer import TradingDB

KEY = "symbols_halted"


def halted(db: TradingDB) -> dict[str, dict[str, str]]:
    rows = db.named("system_value", {"key": KEY})
    try:
        value = json.loads(rows[0]["value"]) if rows and rows[0]["value"] else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def entry_deferral(db: TradingDB, symbol: str) -> str | None:
    """Why a new entry into `symbol` waits (the executor defers it), or None."""
    found = halted(db).get(symbol.upper())
    if not found:
        return None
    return (f"{symbol} looks halted ({found.get('source')}, since {found.get('since')}): "
            "the entry waits for a print")


def check_symbol_halts(db: TradingDB, ctx: Context) -> Check:
    """`health`: WARNING while a symbol we hold looks halted."""
    found = halted(db)
    if not found:
        return Check("symbol_halts", OK, "no symbol of ours looks halted", {"symbols": []})
    return Check("symbol_halts", WARNING, "halted? " + ", ".join(
        f"{s} ({v.get('source')}, since {v.get('since')})" for s, v in sorted(found.items())),
        {"symbols": sorted(found)})
