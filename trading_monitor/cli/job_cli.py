"""What the three job commands share: `--test-mode` and `--dry-run`, the environment, and
(on a fresh embedded test set-up) trading the example decisions first."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Any

from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.cli.common import EXIT_OK, setup_logging
from trading_monitor.ledger.alerts import delivered
from trading_monitor.settings.config import load_settings
from trading_monitor.testmode.environment import Environment, job_environment

# run(env, broker, dry_run, mode) -> the job's report
JobRunner = Callable[[Environment, AlpacaBroker, bool, str | None], Any]


def job_parser(prog: str, doc: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--test-mode", action="store_true",
                        help="test database and paper exchange (embedded ones if none are set); "
                             "never the production database or a live account")
    parser.add_argument("--dry-run", action="store_true",
                        help="show what the cycle would do; no broker or database writes")
    return parser


def run_job(argv: Sequence[str] | None, prog: str, doc: str | None, run: JobRunner,
            show: Callable[[Any], None],
            warm_up: Callable[[Environment, AlpacaBroker], None] | None = None) -> int:
    args = job_parser(prog, doc).parse_args(argv)
    settings = load_settings(need_broker=not args.test_mode)
    setup_logging(settings.log_level)
    with job_environment(settings, test_mode=args.test_mode, seed_examples=True) as env, \
            ExitStack() as alerting:
        if not args.dry_run:  # a dry run writes nothing: its ALERTs are only logged
            alerting.enter_context(delivered(settings, env.db_config))
        broker = AlpacaBroker(env.settings)
        if warm_up is not None and env.embedded and env.clock is not None:
            warm_up(env, broker)
        mode = "test" if args.test_mode and not args.dry_run else None
        show(run(env, broker, args.dry_run, mode))
    return EXIT_OK
