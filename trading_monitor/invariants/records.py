"""Decisions and snapshots: seed 001's A and B (one terminal state per decision) and F
(broker snapshots), on our tables. Pure."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from trading_monitor.db.connection import Row
from trading_monitor.domain.market_time import new_york_date
from trading_monitor.invariants.model import VIOLATION, WARNING, Books, Finding, Limits


def _decision_label(d: Row) -> str:
    what = " ".join(str(v) for v in (d.get("ticker"), d.get("primary_action")) if v)
    return f"decision #{d['id']}" + (f" ({what})" if what else "")


def terminal_state(books: Books, limits: Limits) -> list[Finding]:
    """An executed decision has exactly one decision_outcome, an unexecuted one none; one
    still pending past `pending_age` is a warning (the executor should have settled it).
    Decisions below `first_decision` (marked executed before our executor ran) are left."""
    found: list[Finding] = []
    outcomes: dict[int, list[Row]] = defaultdict(list)
    for o in books.outcomes:
        if int(o["analysis_decision_id"]) >= limits.first_decision:
            outcomes[int(o["analysis_decision_id"])].append(o)
    for d in books.decisions:
        if int(d["id"]) < limits.first_decision:
            continue
        mine = outcomes.get(int(d["id"]), [])
        problem = _decision_problem(d, mine, limits)
        if problem is not None:
            severity, text = problem
            found.append(Finding("terminal_state", severity, f"{_decision_label(d)} {text}",
                                 decision_id=int(d["id"]),
                                 detail={"executed": bool(d["executed"]),
                                         "outcomes": [o["id"] for o in mine]}))
    known = {int(d["id"]) for d in books.decisions}
    for decision_id, mine in sorted(outcomes.items()):
        if decision_id not in known:
            found.append(Finding(
                "terminal_state", VIOLATION,
                f"decision_outcome #{mine[0]['id']} ({mine[0]['terminal_state']}) names "
                f"decision #{decision_id}, which does not exist", decision_id=decision_id))
    return found


def _decision_problem(d: Row, mine: list[Row], limits: Limits) -> tuple[str, str] | None:
    states = ", ".join(f"{o['terminal_state']} (outcome #{o['id']})" for o in mine)
    if d["executed"] and not mine:
        return VIOLATION, "is marked executed but has no terminal state (no decision_outcome)"
    if len(mine) > 1:
        return VIOLATION, f"has {len(mine)} terminal states: {states}"
    if mine and not d["executed"]:
        return VIOLATION, f"has the terminal state {states} but is not marked executed"
    if not mine and d["age_seconds"] is not None:
        age = timedelta(seconds=float(d["age_seconds"]))
        if age > limits.pending_age:
            return WARNING, (f"is still pending after {age.total_seconds() / 3600:.1f} h "
                             "(not executed, no terminal state yet)")
    return None


def snapshots(books: Books, limits: Limits) -> list[Finding]:
    """Per trading day: one START, at most one END (and one once the day is over), and
    every RECONCILIATION snapshot with its status (a FAIL with its discrepancies)."""
    found: list[Finding] = []
    days: dict[date, list[Row]] = defaultdict(list)
    for s in books.snapshots:
        if s["trading_day"] is not None:
            days[s["trading_day"]].append(s)
    today = new_york_date(limits.now)
    for day, rows in sorted(days.items()):
        kinds: dict[str, list[Row]] = defaultdict(list)
        for s in rows:
            kinds[s["snapshot_type"]].append(s)
        over = day < today
        for kind in ("START", "END"):
            if len(kinds[kind]) > 1:
                ids = ", ".join(f"#{s['id']}" for s in kinds[kind])
                found.append(Finding("snapshots", VIOLATION,
                                     f"trading day {day} has {len(kinds[kind])} {kind} "
                                     f"snapshots ({ids}); one is written per day",
                                     detail={"day": str(day), "snapshots": ids}))
        if not kinds["START"]:
            severity = VIOLATION if over or kinds["END"] else WARNING
            found.append(Finding("snapshots", severity,
                                 f"trading day {day} has snapshots but no START snapshot",
                                 detail={"day": str(day)}))
        elif over and not kinds["END"]:
            found.append(Finding("snapshots", WARNING,
                                 f"trading day {day} has no END snapshot (no position-monitor "
                                 "run after the close that day)", detail={"day": str(day)}))
        for s in kinds["RECONCILIATION"]:
            status = s["reconciliation_status"]
            if status not in ("PASS", "FAIL"):
                found.append(Finding("snapshots", VIOLATION,
                                     f"RECONCILIATION snapshot #{s['id']} ({day}) has no "
                                     "PASS/FAIL status", detail={"day": str(day)}))
            elif status == "FAIL" and not s["discrepancies"]:
                found.append(Finding("snapshots", VIOLATION,
                                     f"RECONCILIATION snapshot #{s['id']} ({day}) says FAIL "
                                     "but lists no discrepancy", detail={"day": str(day)}))
    return found
