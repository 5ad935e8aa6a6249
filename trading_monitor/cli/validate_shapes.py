"""`trading-monitor validate-paper --shapes`: each read the jobs use, its fields and values.

Prints, per endpoint, the fields we need that the broker's bodies lack and the enum values
we do not know. It sends no order and changes nothing, so it runs against a live account
too (live can drift apart from paper). Exit 0 when nothing is missing or unknown, 1 else.
"""

from __future__ import annotations

from datetime import date

from trading_monitor.broker.shapes import ShapeReport, read_shapes
from trading_monitor.cli.common import EXIT_FAILED, EXIT_OK
from trading_monitor.settings.config import Settings


def render(report: ShapeReport) -> str:
    lines = []
    for endpoint, count in report.objects.items():
        problems = [f for f in report.findings if f.endpoint == endpoint]
        status = "FAIL" if any(f.problem == "missing" for f in problems) else (
            "WARN" if problems else "ok")
        lines.append(f"[{status:>4}] {endpoint}: {count} object(s) read")
        lines += [f"         {f.kind}.{f.field} {f.problem}" for f in problems]
    lines += [f"[FAIL] {endpoint}: unreadable: {why}"
              for endpoint, why in report.unreadable.items()]
    missing, unknown = len(report.missing), len(report.unknown)
    lines.append(f"{missing} needed field(s) missing, {unknown} unknown value(s), "
                 f"{len(report.unreadable)} endpoint(s) unreadable")
    return "\n".join(lines)


def run_shapes(settings: Settings, symbol: str, today: date) -> int:
    report = read_shapes(settings, symbol, today)
    print(render(report))
    return EXIT_OK if not report.missing and not report.unreadable else EXIT_FAILED
