"""Order monitor job: `python -m trading_monitor.order_monitor [--test-mode] [--dry-run]`.

Runs one cycle (sync fills and orders, protect and close positions, housekeeping) and
exits 0 when it completed. Exit 2: configuration; 1: fatal (bad keys, schema missing);
3: temporary (database or broker away), nothing lost, run it again.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.commands.common import EXIT_OK, handles_errors, setup_logging
from trading_monitor.config import load_settings
from trading_monitor.environment import job_environment
from trading_monitor.order_executor.service import execute_once
from trading_monitor.order_monitor.cycle import MonitorReport
from trading_monitor.order_monitor.service import monitor_once


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m trading_monitor.order_monitor",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--test-mode", action="store_true",
                        help="test database and paper exchange (embedded ones if none are set)")
    parser.add_argument("--dry-run", action="store_true",
                        help="show what the cycle would do; no broker or database writes")
    return parser


def print_report(report: MonitorReport) -> None:
    for line in report.actions:
        print(line)
    for line in report.problems:
        print(f"PROBLEM {line}")
    print(" ".join(f"{k}={v}" for k, v in report.summary.items()))


@handles_errors
def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = load_settings(need_broker=not args.test_mode)
    setup_logging(settings.log_level)
    with job_environment(settings, test_mode=args.test_mode, seed_examples=True) as env:
        broker = AlpacaBroker(env.settings)
        if env.embedded and env.clock is not None:
            # A fresh embedded set-up has nothing to monitor: send the example decisions
            # first, so the cycle has fills to book and positions to protect.
            execute_once(env.db_config, broker, env.settings, mode="test", now=env.clock)
            print("test mode: executed the example decisions first")
        report = monitor_once(env.db_config, broker, env.settings, dry_run=args.dry_run,
                              now=env.clock,
                              mode="test" if args.test_mode and not args.dry_run else None)
        print_report(report)
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
