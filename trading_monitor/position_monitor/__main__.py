"""Position monitor job: `python -m trading_monitor.position_monitor [--test-mode] [--dry-run]`.

Runs one cycle (reconcile with the broker, mark to market, trail stops, risk halts) and exits
0 when it completed. Exit 2: configuration; 1: fatal; 3: temporary, nothing lost.
"""

from __future__ import annotations

from collections.abc import Sequence

from trading_monitor.cli.common import handles_errors
from trading_monitor.cli.job_cli import run_job
from trading_monitor.position_monitor.cycle import PositionReport
from trading_monitor.position_monitor.service import position_monitor_once
from trading_monitor.testmode.warm_up import trade_and_book


def print_report(report: PositionReport) -> None:
    for line in report.actions:
        print(line)
    for issue in report.failing:
        print(f"FAIL {issue.kind.value} {issue.symbol} trade #{issue.journal_id} {issue.detail}")
    print(" ".join(f"{k}={v}" for k, v in report.summary.items()))


@handles_errors
def main(argv: Sequence[str] | None = None,
         prog: str = "python -m trading_monitor.position_monitor") -> int:
    return run_job(argv, prog, __doc__,
                   lambda env, broker, dry, mode: position_monitor_once(
                       env.db_config, broker, env.settings, dry_run=dry, now=env.clock,
                       mode=mode),
                   print_report, warm_up=trade_and_book)


if __name__ == "__main__":
    raise SystemExit(main())
