"""Entry halts: new entries stop while one is set; the executor reads them.

- `halt_reconciliation`: a reconciliation failure that persisted past its grace; cleared by
  the next reconciliation that passes, or by an operator.
- `halt_daily_loss`: the day's loss (realised and unrealised: start-of-day equity against
  equity now) reached MAX_DAILY_LOSS; holds for the rest of that trading day only.
- `halt_drawdown`: equity fell MAX_DRAWDOWN_PCT below its recorded peak; until an operator
  resumes (`trading-monitor resume --reason …`).
"""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

from trading_monitor.db.connection import TradingDB
from trading_monitor.db.queries import Queries
from trading_monitor.ledger.alerts import alert
from trading_monitor.ledger.runs import log_event

QUERIES = Queries(__name__)  # queries.sql beside this module

log = logging.getLogger(__name__)
HALT_KEYS = ("halt_reconciliation", "halt_daily_loss", "halt_drawdown")


def set_halt(db: TradingDB, run_id: str, key: str, value: str, reason: str) -> bool:
    """Set a halt (True when it was not set before); recorded and alerted once."""
    rows = db.named("system_value", {"key": key})
    if rows and rows[0]["value"] == value:
        return False
    db.named_update("set_system_value", {"key": key, "value": value, "reason": reason[:1000]})
    log_event(db, run_id, "system_state", None, "halt_set", f"{key}: {reason}",
              to_status=value)
    alert(log, "halt", key, "new entries halted (%s): %s", key, reason)
    return True


def clear_halt(db: TradingDB, run_id: str, key: str, why: str) -> bool:
    rows = db.named("system_value", {"key": key})
    if not rows or not rows[0]["value"]:
        return False
    db.named_update("set_system_value", {"key": key, "value": "", "reason": why[:1000]})
    log_event(db, run_id, "system_state", None, "halt_cleared", f"{key}: {why}",
              from_status=rows[0]["value"])
    log.warning("entries resume (%s cleared): %s", key, why)
    return True


def active_halt(db: TradingDB, trading_day: date) -> str | None:
    """The first halt in force today, as a reason for the executor; None when none is."""
    for key in HALT_KEYS:
        rows = db.named("system_value", {"key": key})
        if not rows or not rows[0]["value"]:
            continue
        value = str(rows[0]["value"])
        if key == "halt_daily_loss" and value != trading_day.isoformat():
            continue  # yesterday's loss guard: cleared by the new trading day
        return f"{key.removeprefix('halt_').replace('_', ' ')} halt: {rows[0]['reason']}"
    return None


def check_loss_limits(db: TradingDB, run_id: str, day: date, equity: Decimal,
                      start_equity: Decimal | None, max_daily_loss: Decimal | None,
                      max_drawdown_pct: Decimal | None) -> list[str]:
    """Keep the equity marks and set the halts they call for; returns what was set."""
    done = []
    peak = _peak(db, run_id, day, equity)
    if max_daily_loss is not None and start_equity is not None:
        loss = start_equity - equity
        if loss >= max_daily_loss and set_halt(
                db, run_id, "halt_daily_loss", day.isoformat(),
                f"down {loss:.2f} today (start-of-day equity {start_equity}, now {equity}; "
                f"MAX_DAILY_LOSS {max_daily_loss}), realised and unrealised"):
            done.append(f"daily loss halt: down {loss:.2f}")
    if max_drawdown_pct is not None and peak:
        drawdown = (peak - equity) / peak * 100
        if drawdown >= max_drawdown_pct and set_halt(
                db, run_id, "halt_drawdown", "on",
                f"equity {equity} is {drawdown:.1f}% below its peak {peak} "
                f"(MAX_DRAWDOWN_PCT {max_drawdown_pct}); resume with "
                "`trading-monitor resume --reason ...`"):
            done.append(f"drawdown halt: {drawdown:.1f}% below the peak")
    return done


def _peak(db: TradingDB, run_id: str, day: date, equity: Decimal) -> Decimal | None:
    db.execute_update(
        QUERIES["halts_peak_upsert"],
        [day, equity, run_id, equity, equity])
    rows = db.execute_query(QUERIES["halts_peak"])
    return rows[0]["peak"] if rows else None


ALL_HALT_KEYS = ("kill_switch", *HALT_KEYS)
ON_WORDS = {"on", "true", "1", "yes", "halt", "halted"}


def halt_states(db: TradingDB, trading_day: date, trading_halted_setting: bool
                ) -> list[dict[str, object]]:
    """Every halt in one list, for `status` and `health`: key, active, value, reason."""
    states: list[dict[str, object]] = [{
        "key": "TRADING_HALTED", "active": trading_halted_setting,
        "value": "true" if trading_halted_setting else "", "reason": "the environment setting"}]
    for key in ALL_HALT_KEYS:
        rows = db.named("system_value", {"key": key})
        value = str(rows[0]["value"] or "") if rows else ""
        if key == "kill_switch":
            active = value.strip().lower() in ON_WORDS
        elif key == "halt_daily_loss":
            active = value == trading_day.isoformat()
        else:
            active = bool(value)
        states.append({"key": key, "active": active, "value": value,
                       "reason": rows[0]["reason"] if rows else None})
    return states
