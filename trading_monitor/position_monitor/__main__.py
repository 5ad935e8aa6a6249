"""Position monitor job: `python -m trading_monitor.position_monitor [--test-mode] [--dry-run]`.

Runs one cycle (reconcile with the broker, mark to market, trail stops, risk halts) and exits
0 when it completed. Exit 2: configuration; 1: fatal; 3: temporary, nothing lost.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.commands.common import EXIT_OK, handles_errors, setup_logging
from trading_monitor.config import load_settings
from trading_monitor.environment import job_environment
from trading_monitor.order_executor.service import execute_once
from trading_monitor.order_monitor.service import monitor_once
from trading_monitor.position_monitor.cycle import PositionReport
from trading_monitor.position_monitor.service import position_monitor_once


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m trading_monitor.position_monitor",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--test-mode", action="store_true",
                        help="test database and paper exchange (embedded ones if none are set)")
    parser.add_argument("--dry-run", action="store_true",
                        help="show what the cycle would do; no broker or database writes")
    return parser


def print_report(report: PositionReport) -> None:
    for line in report.actions:
        print(line)
    for issue in report.failing:
        print(f"FAIL {issue.kind.value} {issue.symbol} trade #{issue.journal_id} {issue.detail}")
    print(" ".join(f"{k}={v}" for k, v in report.summary.items()))


@handles_errors
def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = load_settings(need_broker=not args.test_mode)
    setup_logging(settings.log_level)
    with job_environment(settings, test_mode=args.test_mode, seed_examples=True) as env:
        broker = AlpacaBroker(env.settings)
        if env.embedded and env.clock is not None:
            # A fresh embedded set-up holds nothing: trade the examples first.
            execute_once(env.db_config, broker, env.settings, mode="test", now=env.clock)
            monitor_once(env.db_config, broker, env.settings, mode="test", now=env.clock)
            print("test mode: executed the example decisions and booked their fills first")
        report = position_monitor_once(env.db_config, broker, env.settings,
                                       dry_run=args.dry_run, now=env.clock,
                                       mode="test" if args.test_mode and not args.dry_run
                                       else None)
        print_report(report)
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
