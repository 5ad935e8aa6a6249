"""Order executor job: `python -m trading_monitor.order_executor [--test-mode] [--dry-run]`.

Runs one cycle and exits 0 when the cycle completed (decisions rejected by rules or the
broker are a normal outcome). Exit 2: configuration; 1: fatal (bad keys, schema missing);
3: temporary (database or broker away), nothing lost, run it again.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.commands.common import EXIT_OK, handles_errors, setup_logging
from trading_monitor.config import load_settings
from trading_monitor.environment import job_environment
from trading_monitor.order_executor.cycle import CycleReport
from trading_monitor.order_executor.service import execute_once


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m trading_monitor.order_executor",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--test-mode", action="store_true",
                        help="test database and paper exchange (embedded ones if none are set); "
                             "never the production database or a live account")
    parser.add_argument("--dry-run", action="store_true",
                        help="validate and record what would be sent; send nothing")
    return parser


def print_report(report: CycleReport) -> None:
    if not report.outcomes:
        print("no unexecuted decisions")
    for decision_id, ticker, label, reason in report.outcomes:
        print(f"#{decision_id:<5} {ticker:<6} {label:<9} {reason}")
    print(" ".join(f"{k}={v}" for k, v in report.summary.items()))


@handles_errors
def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = load_settings(need_broker=not args.test_mode)
    setup_logging(settings.log_level)
    with job_environment(settings, test_mode=args.test_mode, seed_examples=True) as env:
        broker = AlpacaBroker(env.settings)
        report = execute_once(env.db_config, broker, env.settings, dry_run=args.dry_run,
                              mode="test" if args.test_mode and not args.dry_run else None,
                              now=env.clock)
        print_report(report)
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
