"""The checker's output: a readable list, or one JSON object."""

from __future__ import annotations

import json

from trading_monitor.domain.jsonable import jsonable
from trading_monitor.invariants.model import INFO, INVARIANTS, VIOLATION, WARNING
from trading_monitor.invariants.run import Report

LABEL = {VIOLATION: "VIOLATION", WARNING: "WARNING", INFO: "INFO"}
STATUS = {"pass": "ok", "warn": "ok*", "fail": "FAIL", "skipped": "skip"}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary(report: Report) -> str:
    v, w, i = (report.count(s) for s in (VIOLATION, WARNING, INFO))
    broken = sorted({f.invariant for f in report.findings if f.severity == VIOLATION})
    head = (f"FAILED: {_plural(v, 'violation')} ({', '.join(broken)})" if v
            else f"OK: {len(INVARIANTS)} invariants hold")
    tail = [_plural(w, "warning")] if w else []
    tail += [f"{i} info"] if i else []
    where = (f"broker read in {report.broker_requests} requests" if report.broker_read
             else "broker not read (--no-broker)")
    return f"check {head}" + (f"; {', '.join(tail)}" if tail else "") + f"; {where}"


def text(report: Report) -> str:
    lines = [summary(report), ""]
    width = max(len(i.name) for i in INVARIANTS)
    for f in report.findings:
        lines.append(f"{LABEL[f.severity]:<9}  {f.invariant:<{width}}  {f.message}")
    if report.findings:
        lines.append("")
    for inv in INVARIANTS:
        status = report.status(inv.name)
        note = report.skipped.get(inv.name)
        extra = (f"  [not checked: {note}]" if status == "skipped" else
                 f"  [broker part not checked: {note}]" if note else "")
        lines.append(f"  {STATUS[status]:<4}  {inv.name:<{width}}  {inv.title}{extra}")
    return "\n".join(lines)



def as_json(report: Report) -> str:
    return json.dumps({"summary": summary(report), **report.as_dict()}, default=jsonable,
                      indent=2)
