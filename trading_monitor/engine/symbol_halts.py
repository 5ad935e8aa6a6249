"""Symbols that look halted (system_state `symbols_halted`): what the executor, `status` and
`health` read. Two sources write it (HALT_SOURCE): the position monitor's print rule
(position_monitor/halt_watch.py, entries `"by": "prints"`) and the market-data `statuses`
channel (daemon/halt_stream.py, `"by": "statuses"`); each lifts only its own entries. A halt
the channel saw lift keeps its entry with `lifted_at` for LIFT_GRACE: entries and `health` no
longer wait for it, but a stop Alpaca cancels at the reopening is still known for a halt's
(engine/hand_cancel.py: re-placed at once, no hand-cancel grace).

system_state `halt_stream` says what the channel does now: {"state": "subscribed" | "refused"
| "down", "detail", "at"}. The print rule runs unless HALT_SOURCE=statuses and the channel is
subscribed: a feed that refuses it (or a stream not running) falls back to prints."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from trading_monitor.db.connection import TradingDB
from trading_monitor.db.queries import Queries
from trading_monitor.engine.health_base import OK, WARNING, Check, Context

QUERIES = Queries(__name__)  # queries.sql beside this module

KEY = "symbols_halted"
STREAM_KEY = "halt_stream"
LIFT_GRACE = timedelta(minutes=5)
Halted = dict[str, dict[str, str]]


def halted(db: TradingDB) -> dict[str, dict[str, str]]:
    rows = db.named("system_value", {"key": KEY})
    try:
        value = json.loads(rows[0]["value"]) if rows and rows[0]["value"] else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def in_force(db: TradingDB) -> Halted:
    """The halts not lifted yet (a lifted one waits out LIFT_GRACE for hand_cancel only)."""
    return {s: v for s, v in halted(db).items() if not v.get("lifted_at")}


def update_halted(db: TradingDB, reason: str, change: Callable[[Halted], Halted]) -> Halted:
    """Read, change and write `symbols_halted` under a row lock: the print rule and the
    statuses channel write it from different threads."""
    with db.transaction():
        db.execute_update(QUERIES["symbol_halts_ensure"], [KEY, reason[:1000]])
        rows = db.execute_query(QUERIES["symbol_halts_lock"],
                                [KEY])
        try:
            before = json.loads(rows[0]["value"] or "{}") if rows else {}
        except ValueError:
            before = {}
        after = change(dict(before) if isinstance(before, dict) else {})
        if after != before:
            db.named_update("set_system_value", {"key": KEY, "value": json.dumps(after),
                                                 "reason": reason[:1000]})
        return after


def stream_state(db: TradingDB) -> dict[str, Any]:
    rows = db.named("system_value", {"key": STREAM_KEY})
    try:
        value = json.loads(rows[0]["value"]) if rows and rows[0]["value"] else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def print_rule_on(db: TradingDB, halt_source: str) -> bool:
    """The print rule runs for HALT_SOURCE prints and both, and for statuses whenever the
    channel is not subscribed right now (refused by the feed, or no stream running)."""
    return halt_source != "statuses" or stream_state(db).get("state") != "subscribed"


def entry_deferral(db: TradingDB, symbol: str) -> str | None:
    """Why a new entry into `symbol` waits (the executor defers it), or None."""
    found = in_force(db).get(symbol.upper())
    if not found:
        return None
    return (f"{symbol} looks halted ({found.get('source')}, since {found.get('since')}): "
            "the entry waits for the halt to lift")


def check_symbol_halts(db: TradingDB, ctx: Context) -> Check:
    """`health`: WARNING while a symbol we hold looks halted."""
    found, stream = in_force(db), stream_state(db)
    channel = {"halt_stream": stream.get("state"), "halt_stream_detail": stream.get("detail")}
    seen = (" (the statuses channel was refused: the print rule sees halts)"
            if stream.get("state") == "refused" else "")
    if not found:
        return Check("symbol_halts", OK, "no symbol of ours looks halted" + seen,
                     {"symbols": [], **channel})
    return Check("symbol_halts", WARNING, "halted? " + ", ".join(
        f"{s} ({v.get('source')}, since {v.get('since')})" for s, v in sorted(found.items()))
        + seen, {"symbols": sorted(found), **channel})
