"""The fail-closed checks of `health` (issue 27): the broker account and the incident.

- account: CRITICAL when a job found the broker's keys lead to another account than the
  books' (system_state 'broker_account_mismatch'), or when health's own GET /v2/account
  (the broker check) answers with another id. WARNING while trades written against an
  earlier account are open (adopted with `--leave-open-trades`): held there, not managed.
- incident: CRITICAL while a reconciliation incident is open, naming its trades.
"""

from __future__ import annotations

from trading_monitor.cli.health_checks import CRITICAL, OK, WARNING, Check, Context
from trading_monitor.db.connection import TradingDB
from trading_monitor.engine.account_guard import (
    MISMATCH_KEY,
    recorded_account,
    trades_held_elsewhere,
)
from trading_monitor.engine.incident_state import open_incident


def check_account(db: TradingDB, ctx: Context, broker_account: str | None = None) -> Check:
    books = recorded_account(db)
    rows = db.named("system_value", {"key": MISMATCH_KEY})
    found = str(rows[0]["value"]) if rows and rows[0]["value"] else None
    if broker_account and books and broker_account != books:
        found = broker_account
    detail = {"books": books, "broker": found or broker_account}
    if found and books and found != books:
        return Check("account", CRITICAL,
                     f"broker account mismatch: the keys lead to {found}, the books were "
                     f"written against {books}; every job refuses (put the keys back, or "
                     f"`trading-monitor reconcile --adopt-account {found} --reason ...`)",
                     detail)
    elsewhere = trades_held_elsewhere(db)
    if elsewhere:
        held = ", ".join(f"trade #{t['id']} {t['symbol']} at {t['broker_account_id']}"
                         for t in elsewhere)
        return Check("account", WARNING,
                     f"broker account {books}; {len(elsewhere)} open trade(s) held at another "
                     f"account, not managed: {held} (close them there, then `trading-monitor "
                     "reconcile --accept-gone IDS --reason ...`)",
                     {**detail, "held_elsewhere": [int(t["id"]) for t in elsewhere]})
    return Check("account", OK, f"broker account {books or 'not recorded yet'}", detail)


def check_incident(db: TradingDB, ctx: Context) -> Check:
    incident = open_incident(db)
    if incident is None:
        return Check("incident", OK, "no reconciliation incident")
    symbols = incident.get("symbols") or {}
    trades = ", ".join(f"trade #{t} {symbols.get(str(t), '')}".strip()
                       for t in incident.get("trades", []))
    return Check("incident", CRITICAL,
                 f"reconciliation incident since {incident.get('opened_at')}: "
                 f"{incident.get('cause')}; nothing booked for {trades or 'no trade'}; "
                 "`trading-monitor reconcile` for the way out", incident)
