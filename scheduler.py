#!/usr/bin/env python3
"""The trading-monitor daemon: one APScheduler process owning the jobs.

    python scheduler.py            # run until stopped (Ctrl-C or SIGTERM)
    python scheduler.py --list     # show the jobs and their next run times, then exit
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import Any

from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.commands.common import EXIT_OK, handles_errors, setup_logging
from trading_monitor.config import get_postgres_config, load_settings
from trading_monitor.order_executor.service import execute_once
from trading_monitor.scheduling import build_scheduler, describe_jobs

log = logging.getLogger("trading_monitor.scheduler")


@handles_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list", action="store_true", help="print the jobs and exit")
    args = parser.parse_args(argv)
    settings = load_settings(need_broker=True)
    setup_logging(settings.log_level)
    db_config = get_postgres_config(settings=settings)
    broker = AlpacaBroker(settings)

    def run_executor() -> Any:
        return execute_once(db_config, broker, settings)

    scheduler = build_scheduler(settings, run_executor)
    if args.list:
        print("\n".join(describe_jobs(scheduler)))
        return EXIT_OK
    signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=True))
    log.info("trading-monitor scheduler starting (%s)", "paper" if settings.alpaca_paper
             else "LIVE")
    for line in describe_jobs(scheduler):
        log.info("job %s", line)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
