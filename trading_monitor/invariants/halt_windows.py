"""Seed 001's D on our tables: no entry goes out while a halt or a reconciliation FAIL
stands. Pure.

When each stood is rebuilt from the record: `event_log` halt_set / halt_cleared rows
(entity `system_state`, the message starting with the halt's key, as `halts.set_halt`
writes them, the kill switch included), `broker_snapshot` RECONCILIATION rows (a FAIL until
the next PASS, or until an operator clears `halt_reconciliation`), and a halt in force in
`system_state` now that no event explains (set by hand in NocoDB: from its row's update).
Entries are compared by the broker's submission time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from trading_monitor.db.connection import Row
from trading_monitor.engine.halts import ALL_HALT_KEYS, ON_WORDS
from trading_monitor.engine.snapshots import start_of
from trading_monitor.invariants.model import VIOLATION, WARNING, Books, Finding, Limits

FAIL = "reconciliation FAIL"


@dataclass(frozen=True)
class Window:
    what: str  # the halt key, or "reconciliation FAIL"
    start: datetime
    end: datetime | None  # None: still standing
    source: str
    reason: str

    def holds(self, at: datetime) -> bool:
        return self.start <= at and (self.end is None or at < self.end)


def _key(event: Row) -> str:
    return str(event["message"] or "").split(":", 1)[0].strip()


def _is_on(key: str, value: object) -> bool:
    text = str(value or "").strip()
    return text.lower() in ON_WORDS if key == "kill_switch" else bool(text)


def _day_end(key: str, value: object) -> datetime | None:
    """The daily loss halt holds for its trading day only (its value is that day)."""
    if key != "halt_daily_loss":
        return None
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        return None
    return start_of(day + timedelta(days=1))


def _earliest(*times: datetime | None) -> datetime | None:
    known = [t for t in times if t is not None]
    return min(known) if known else None


def halt_windows(books: Books, now: datetime) -> list[Window]:
    windows: list[Window] = []
    open_: dict[str, tuple[Row, datetime | None]] = {}

    def close(what: str, at: datetime | None, how: str) -> None:
        event, day_end = open_.pop(what)
        windows.append(Window(what, event["created_at"], _earliest(at, day_end),
                              f"event_log #{event['id']}" + (f", {how}" if how else ""),
                              str(event["message"] or "")))

    for e in sorted(books.halt_events, key=lambda e: (e["created_at"], e["id"])):
        key = _key(e)
        if e["event"] == "halt_set" and _is_on(key, e["to_status"]):
            if key in open_:
                close(key, e["created_at"], "set again")
            open_[key] = (e, _day_end(key, e["to_status"]))
        elif e["event"] == "halt_cleared" and key in open_:
            close(key, e["created_at"], f"cleared by event_log #{e['id']}")
    for key in list(open_):
        close(key, None, "")
    windows += _fail_windows(books)
    windows += _unrecorded_halts(books, windows, now)
    return windows


def _fail_windows(books: Books) -> list[Window]:
    """FAIL snapshots until the next PASS, or an operator's clearing of the halt."""
    marks = [(s["created_at"], s["id"], "snapshot", s) for s in books.snapshots
             if s["snapshot_type"] == "RECONCILIATION"]
    marks += [(e["created_at"], e["id"], "cleared", e) for e in books.halt_events
              if e["event"] == "halt_cleared" and _key(e) == "halt_reconciliation"]
    windows, start = [], None
    for at, _, kind, row in sorted(marks, key=lambda m: (m[0], m[2] == "snapshot", m[1])):
        if kind == "snapshot" and row["reconciliation_status"] == "FAIL" and start is None:
            start = row
        elif start is not None and (kind == "cleared" or row["reconciliation_status"] == "PASS"):
            windows.append(Window(FAIL, start["created_at"], at,
                                  f"broker_snapshot #{start['id']}", _discrepancies(start)))
            start = None
    if start is not None:
        windows.append(Window(FAIL, start["created_at"], None, f"broker_snapshot #{start['id']}",
                              _discrepancies(start)))
    return windows


def _discrepancies(snapshot: Row) -> str:
    items = snapshot["discrepancies"] or []
    return "; ".join(f"{d.get('kind')} {d.get('symbol')}" for d in items
                     if isinstance(d, dict)) or "no discrepancy listed"


def _unrecorded_halts(books: Books, windows: list[Window], now: datetime) -> list[Window]:
    found = []
    for row in books.halt_settings:
        key = row["key"]
        if key not in ALL_HALT_KEYS or not _is_on(key, row["value"]):
            continue
        day_end = _day_end(key, row["value"])
        if day_end is not None and day_end <= now:
            continue  # yesterday's loss halt: over
        if any(w.what == key and w.end is None for w in windows):
            continue
        found.append(Window(key, row["updated_at"], day_end,
                            "system_state (no event_log row: set by hand?)",
                            f"{key}: {row['reason'] or 'no reason given'}"))
    return found


def no_entry_in_halt(books: Books, limits: Limits) -> list[Finding]:
    """An entry submitted inside a halt window is a violation; within `halt_race` of the
    window's start a warning (the executor's check raced the halt, or the two clocks)."""
    windows = halt_windows(books, limits.now)
    found: list[Finding] = []
    for o in books.orders:
        at = o["submitted_at"]
        if o["order_role"] != "ENTRY" or at is None or not o["alpaca_order_id"]:
            continue
        standing = [w for w in windows if w.holds(at)]
        if not standing:
            continue
        race = all(at - w.start < limits.halt_race for w in standing)
        what = "; ".join(f"{w.what} since {w.start.isoformat()} ({w.source}: {w.reason})"
                         for w in standing)
        found.append(Finding(
            "no_entry_in_halt", WARNING if race else VIOLATION,
            f"entry {o['client_order_id']} (decision #{o['analysis_decision_id']}, trade "
            f"#{o['trade_journal_id']}) was submitted at {at.isoformat()} while {what}"
            + (f" — within {limits.halt_race.total_seconds():g} s of it: a race" if race
               else ""),
            trade_id=o["trade_journal_id"], decision_id=o["analysis_decision_id"],
            client_order_id=o["client_order_id"],
            detail={"submitted_at": at.isoformat(), "windows": [w.what for w in standing]}))
    return found
