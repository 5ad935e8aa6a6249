"""The last invariant check's result, kept for `health`.

`trading-monitor check` reads the books and the broker only; when it has a result it keeps
it in system_state (key `invariant_check`: when, the exit code, violations, warnings, whether
the broker was read, and its summary line as the reason). `health` shows it, CRITICAL while
the last check found a violation, so health never says OK beside a failing check; with no
check recorded it says that none ran.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from trading_monitor.cli import health_checks as hc
from trading_monitor.db import pg
from trading_monitor.db.connection import TradingDB
from trading_monitor.exceptions import TradingMonitorError
from trading_monitor.invariants.model import VIOLATION, WARNING
from trading_monitor.invariants.render import summary
from trading_monitor.invariants.run import Report

KEY = "invariant_check"
NONE_RAN = "no invariant check has run yet (trading-monitor check)"


def record_check(db_config: dict[str, Any], report: Report) -> str | None:
    """Keep the report's result; returns why it could not be kept (the check's own answer
    stands either way)."""
    value = {"at": report.as_of.isoformat(), "exit_code": report.exit_code,
             "violations": report.count(VIOLATION), "warnings": report.count(WARNING),
             "broker_read": report.broker_read}
    try:
        with TradingDB(config=db_config, application_name="trading-monitor check") as db:
            db.named_update("set_system_value", {"key": KEY, "value": json.dumps(value),
                                                 "reason": summary(report)[:1000]})
    except (TradingMonitorError, pg.Error) as exc:
        return f"the result is not kept for `health`: {' '.join(str(exc).split())}"
    return None


def check_invariants(db: TradingDB, ctx: hc.Context) -> hc.Check:
    """The last `trading-monitor check`: CRITICAL when it found a violation."""
    rows = db.named("system_value", {"key": KEY})
    if not rows or not rows[0]["value"]:
        return hc.Check("invariants", hc.OK, NONE_RAN, {"ran": False})
    value = json.loads(str(rows[0]["value"]))
    when = f"{datetime.fromisoformat(value['at']).astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC"
    detail = {"ran": True, **value, "summary": rows[0]["reason"]}
    violations = int(value.get("violations") or 0)
    if violations or int(value.get("exit_code") or 0) == 1:
        return hc.Check("invariants", hc.CRITICAL,
                        f"the last invariant check ({when}) found {violations} violation(s): "
                        f"{rows[0]['reason']}; fix them and run `trading-monitor check` again",
                        detail)
    warnings = int(value.get("warnings") or 0)
    return hc.Check("invariants", hc.OK, f"last invariant check {when}: every invariant held"
                    + (f" ({warnings} warning(s))" if warnings else ""), detail)
