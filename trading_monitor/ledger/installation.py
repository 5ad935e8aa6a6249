"""This database's installation id: part of every client order id we derive."""

from __future__ import annotations

from trading_monitor.db.connection import TradingDB


def installation_id(db: TradingDB) -> str:
    rows = db.named("system_value", {"key": "installation_id"})
    if not rows or not rows[0]["value"]:
        raise RuntimeError("system_state.installation_id missing: run `trading-monitor migrate`")
    return str(rows[0]["value"])
