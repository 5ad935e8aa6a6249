"""Order monitor job: `python -m trading_monitor.order_monitor [--test-mode] [--dry-run]`.

Runs one cycle (sync fills and orders, protect and close positions, housekeeping) and
exits 0 when it completed. Exit 2: configuration; 1: fatal (bad keys, schema missing);
3: temporary (database or broker away), nothing lost, run it again.
"""

from __future__ import annotations

from collections.abc import Sequence

from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.cli.common import handles_errors
from trading_monitor.cli.job_cli import run_job
from trading_monitor.order_executor.service import execute_once
from trading_monitor.order_monitor.cycle import MonitorReport
from trading_monitor.order_monitor.service import monitor_once
from trading_monitor.testmode.environment import Environment


def print_report(report: MonitorReport) -> None:
    for line in report.actions:
        print(line)
    for line in report.problems:
        print(f"PROBLEM {line}")
    print(" ".join(f"{k}={v}" for k, v in report.summary.items()))


def trade_the_examples(env: Environment, broker: AlpacaBroker) -> None:
    """A fresh embedded set-up has nothing to monitor: send the example decisions first."""
    execute_once(env.db_config, broker, env.settings, mode="test", now=env.clock)
    print("test mode: executed the example decisions first")


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
