"""The open reconciliation incident as stored (system_state 'reconciliation_incident', JSON:
cause, trades, opened_at). The position monitor opens and ends it (position_monitor/incident.py);
the report, `status` and `health` read it from here, so none of them imports a job."""

from __future__ import annotations

import json
from typing import Any

from trading_monitor.db.connection import TradingDB

INCIDENT_KEY = "reconciliation_incident"


def open_incident(db: TradingDB) -> dict[str, Any] | None:
    rows = db.named("system_value", {"key": INCIDENT_KEY})
    if not rows or not rows[0]["value"]:
        return None
    try:
        found = json.loads(str(rows[0]["value"]))
    except ValueError:
        return {"cause": str(rows[0]["value"]), "trades": []}
    return found if isinstance(found, dict) else None
