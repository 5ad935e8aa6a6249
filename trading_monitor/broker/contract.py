"""Broken broker contracts: alerted the moment they are seen, kept for `health` until a later
read of the same endpoint succeeds.

The adapter reports here; a job run (runs.recorded_run) collects what its thread saw and
`record` keeps it in system_state under CONTRACT_KEY, which `health` reads.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from trading_monitor.domain.alert_kinds import alert
from trading_monitor.exceptions import BrokerContractError

log = logging.getLogger(__name__)
CONTRACT_KEY = "broker_contract_error"
_local = threading.local()


@dataclass
class ContractLog:
    """What one job run saw: the broken endpoints, and the endpoints read fine."""

    broken: dict[str, BrokerContractError] = field(default_factory=dict)
    fine: set[str] = field(default_factory=set)


def begin() -> ContractLog:
    seen = ContractLog()
    _local.log = seen
    return seen


def end() -> None:
    _local.log = None


def broken(exc: BrokerContractError) -> None:
    alert(log, "broker_contract", f"{exc.endpoint} {exc.field}", "%s", exc)
    seen: ContractLog | None = getattr(_local, "log", None)
    if seen is not None:
        seen.broken[exc.endpoint] = exc
        seen.fine.discard(exc.endpoint)


def read_ok(endpoint: str) -> None:
    seen: ContractLog | None = getattr(_local, "log", None)
    if seen is not None and endpoint not in seen.broken:
        seen.fine.add(endpoint)


def record(db: Any, seen: ContractLog, at: datetime | None) -> None:
    """Set the key for the newest broken endpoint; clear it once its endpoint read fine."""
    if seen.broken:
        exc = next(reversed(seen.broken.values()))
        value = json.dumps({"endpoint": exc.endpoint, "field": exc.field, "message": str(exc),
                            "at": at.isoformat() if at else None})
        db.named_update("set_system_value", {"key": CONTRACT_KEY, "value": value,
                                             "reason": str(exc)[:500]})
        return
    if not seen.fine:
        return
    current = db.named("system_value", {"key": CONTRACT_KEY})
    if not current:
        return
    try:
        endpoint = json.loads(current[0]["value"] or "{}").get("endpoint")
    except (ValueError, AttributeError):
        endpoint = None
    if endpoint is None or endpoint in seen.fine:
        db.named_update("delete_system_value", {"key": CONTRACT_KEY})
