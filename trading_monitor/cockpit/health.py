"""`trading-monitor health`'s `messages` check: a per-event message to NOTIFY_URLS that
failed for good (NOTIFY_MAX_ATTEMPTS attempts) in the last 24 hours is a WARNING, so a dead
Telegram bot or a wrong URL does not go unnoticed while trading is fine. Its error is shown,
never the URL (outbox.py records none)."""

from __future__ import annotations

from datetime import datetime, timedelta

from trading_monitor.cockpit.messages import query
from trading_monitor.db.connection import TradingDB
from trading_monitor.engine.health_base import OK, WARNING, Check, Context

WINDOW = timedelta(hours=24)


def messages_failed(db: TradingDB, now: datetime) -> tuple[int, str | None]:
    """How many messages failed for good in the last 24 hours, and one of their errors."""
    rows = query(db, "messages_failed", {"since": now - WINDOW})
    return (int(rows[0]["n"]), rows[0]["error"]) if rows else (0, None)


def check_messages(db: TradingDB, ctx: Context) -> Check:
    failed, error = messages_failed(db, ctx.now)
    if not failed:
        return Check("messages", OK, "no per-event message failed in the last 24 h")
    return Check("messages", WARNING,
                 f"{failed} per-event message(s) to NOTIFY_URLS failed for good in the last "
                 f"24 h ({' '.join(str(error or 'no error recorded').split())[:120]})",
                 {"failed": failed})
