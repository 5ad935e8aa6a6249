"""Order executor job: `python -m trading_monitor.order_executor [--test-mode] [--dry-run]`.

Runs one cycle and exits 0 when the cycle completed (decisions rejected by rules or the
broker are a normal outcome). Exit 2: configuration; 1: fatal (bad keys, schema missing);
3: temporary (database or broker away), nothing lost, run it again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from trading_monitor.cli.common import handles_errors
from trading_monitor.cli.job_cli import run_job
from trading_monitor.order_executor.cycle import CycleReport
from trading_monitor.order_executor.service import execute_once


class _PrintedBelow(logging.Filter):
    """The cycle logs each decision's outcome ("decision #N …") for the daemon's log; this
    command prints the same in its table, so here the log line would say it twice."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno <= logging.WARNING
                    and str(record.msg).startswith("decision #"))


def print_report(report: CycleReport) -> None:
    if not report.outcomes:
        print("no unexecuted decisions")
    for decision_id, ticker, label, reason in report.outcomes:
        print(f"#{decision_id:<5} {ticker:<6} {label:<9} {reason}")
    print(" ".join(f"{k}={v}" for k, v in report.summary.items()))


@handles_errors
def main(argv: Sequence[str] | None = None,
         prog: str = "python -m trading_monitor.order_executor") -> int:
    cycle_log, printed = logging.getLogger("trading_monitor.order_executor.cycle"), _PrintedBelow()
    cycle_log.addFilter(printed)
    try:
        return _main(argv, prog)
    finally:
        cycle_log.removeFilter(printed)


def _main(argv: Sequence[str] | None, prog: str) -> int:
    return run_job(argv, prog, __doc__,
                   lambda env, broker, dry, mode: execute_once(
                       env.db_config, broker, env.settings, dry_run=dry, mode=mode,
                       now=env.clock),
                   print_report)


if __name__ == "__main__":
    raise SystemExit(main())
