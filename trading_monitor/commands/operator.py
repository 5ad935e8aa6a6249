"""Operator commands on the books, from the shell or a cron job:

    trading-monitor approve-exit TRADE_ID   # close a position at its target, next cycle
    trading-monitor resume-entries          # clear the drawdown and reconciliation halts
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from trading_monitor.clock import system_clock
from trading_monitor.commands.common import EXIT_OK, handles_errors, setup_logging
from trading_monitor.config import get_postgres_config, load_settings
from trading_monitor.db_layer import TradingDB
from trading_monitor.halts import HALT_KEYS, clear_halt
from trading_monitor.ledger import Ledger
from trading_monitor.runs import new_run_id

EXIT_REFUSED = 4


@handles_errors
def approve_exit(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="trading-monitor approve-exit",
                                     description="approve closing a position at market")
    parser.add_argument("trade_id", type=int)
    args = parser.parse_args(argv)
    settings = load_settings()
    setup_logging(settings.log_level)
    with TradingDB(config=get_postgres_config(settings=settings)) as db:
        ledger = Ledger(db, new_run_id("operator"), system_clock)
        if not ledger.approve_exit(args.trade_id, "trading-monitor approve-exit"):
            print(f"trade #{args.trade_id} has no open position")
            return EXIT_REFUSED
    print(f"exit of trade #{args.trade_id} approved: the next position-monitor cycle closes it")
    return EXIT_OK


@handles_errors
def resume_entries(argv: Sequence[str] | None = None) -> int:
    argparse.ArgumentParser(prog="trading-monitor resume-entries",
                            description="clear the entry halts").parse_args(argv)
    settings = load_settings()
    setup_logging(settings.log_level)
    with TradingDB(config=get_postgres_config(settings=settings)) as db:
        run_id = new_run_id("operator")
        cleared = [k for k in HALT_KEYS if clear_halt(db, run_id, k, "an operator resumed")]
    print(f"cleared: {', '.join(cleared)}" if cleared else "no halt was set")
    return EXIT_OK
