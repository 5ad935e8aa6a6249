"""Order monitor job: `python -m trading_monitor.order_monitor [--test-mode] [--dry-run]`.

Runs one cycle (sync fills and orders, protect and close positions, housekeeping) and
exits 0 when it completed. Exit 2: configuration; 1: fatal (bad keys, schema missing);
3: temporary (database or broker away), nothing lost, run it again.
"""

from __future__ import annotations

from collections.abc import Sequence

from trading_monitor.cli.common import handles_errors
from trading_monitor.cli.job_cli import run_job
from trading_monitor.order_monitor.cycle import MonitorReport
from trading_monitor.order_monitor.service import monitor_once
from trading_monitor.testmode.warm_up import trade_the_examples


def print_report(report: MonitorReport) -> None:
    for line in report.actions:
        print(line)
    for line in report.problems:
        print(f"PROBLEM {line}")
    print(" ".join(f"{k}={v}" for k, v in report.summary.items()))


@handles_errors
def main(argv: Sequence[str] | None = None,
         prog: str = "python -m trading_monitor.order_monitor") -> int:
    return run_job(argv, prog, __doc__,
                   lambda env, broker, dry, mode: monitor_once(
                       env.db_config, broker, env.settings, dry_run=dry, now=env.clock,
                       mode=mode),
                   print_report, warm_up=trade_the_examples)


if __name__ == "__main__":
    raise SystemExit(main())
