"""health's `broker_shapes` check: `validate-paper --shapes` as a Nagios state.

A needed field missing from any read the jobs use is CRITICAL (those reads would fail with a
BrokerContractError); an enum value we do not know is a WARNING (we treat it
conservatively, and a person should know it is there). About ten read requests, no order.
"""

from __future__ import annotations

from datetime import date

from trading_monitor.broker.shapes import read_shapes
from trading_monitor.cli.health_checks import CRITICAL, OK, WARNING, Check
from trading_monitor.settings.config import Settings

SYMBOL = "SPY"  # the asset and market-data reads need a symbol; any liquid one will do


def check_broker_shapes(settings: Settings, today: date) -> Check:
    report = read_shapes(settings, SYMBOL, today)
    detail = {"missing": [str(f) for f in report.missing],
              "unknown": [str(f) for f in report.unknown], "unreadable": report.unreadable}
    if report.missing:
        return Check("broker_shapes", CRITICAL, "broker answers lack fields we need: "
                     + "; ".join(str(f) for f in report.missing[:3]), detail)
    if report.unreadable:
        endpoint, why = next(iter(report.unreadable.items()))
        return Check("broker_shapes", CRITICAL, f"{endpoint} unreadable: {why}", detail)
    if report.unknown:
        return Check("broker_shapes", WARNING, "broker answers carry values we do not know "
                     "(treated conservatively): " + "; ".join(str(f) for f in report.unknown[:3]),
                     detail)
    return Check("broker_shapes", OK, f"{len(report.objects)} broker reads carry every field "
                                      "we need", detail)
