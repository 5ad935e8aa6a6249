"""How our values become JSON: money as exact strings, times in ISO 8601 with their offsets.
One definition for every JSON we write (the report, the checker, the CLI's --json)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any


def jsonable(value: Any) -> Any:
    """json.dumps default: money as exact strings, times in ISO 8601 (UTC offsets kept)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
