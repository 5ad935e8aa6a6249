"""Operator commands on the books, from the shell or a cron job:

    trading-monitor approve-exit TRADE_ID   # close a position at its target, next cycle
    trading-monitor resume --reason TEXT    # clear the kill switch, drawdown and
                                            # reconciliation halts (resume-entries: the old
                                            # name, --reason optional)
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from trading_monitor.cli.book import trading_day
from trading_monitor.cli.common import (
    EXIT_OK,
    handles_errors,
    operator_name,
    setup_logging,
)
from trading_monitor.clock import Clock, system_clock
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.params import get_postgres_config
from trading_monitor.engine.account_guard import refusal
from trading_monitor.engine.halts import clear_halt, halt_states
from trading_monitor.ledger import Ledger
from trading_monitor.ledger.alerts import alert, delivered
from trading_monitor.ledger.runs import log_event, new_run_id
from trading_monitor.settings.config import load_settings

EXIT_REFUSED = 4
log = logging.getLogger(__name__)


@handles_errors
def approve_exit(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="trading-monitor approve-exit", description="approve closing a position at market",
        epilog="exit codes: 0 approved; 1 fatal; 2 configuration or usage; 3 the database is "
               "unreachable; 4 the trade has no open position or another account's")
    parser.add_argument("trade_id", type=int)
    args = parser.parse_args(argv)
    settings = load_settings()
    setup_logging(settings.log_level)
    db_config = get_postgres_config(settings=settings)
    with delivered(settings, db_config), TradingDB(config=db_config) as db:
        ledger = Ledger(db, new_run_id("operator"), system_clock)
        # Not while the keys lead to another account, nor for a trade written against one.
        refused = refusal(db, db.get_by_id("trade_journal", args.trade_id))
        if refused:
            print(f"exit of trade #{args.trade_id} not approved: {refused}")
            return EXIT_REFUSED
        if not ledger.approve_exit(args.trade_id,
                                   f"trading-monitor approve-exit by {operator_name()}"):
            print(f"trade #{args.trade_id} has no open position")
            return EXIT_REFUSED
        alert(log, "operator", f"approve-exit trade #{args.trade_id}",
              "exit of trade #%s approved by %s: the next position-monitor cycle closes it "
              "at market", args.trade_id, operator_name())
    print(f"exit of trade #{args.trade_id} approved: the next position-monitor cycle closes it")
    return EXIT_OK


RESUMABLE = ("kill_switch", "halt_reconciliation", "halt_drawdown")


def _resume_parser(prog: str, reason_required: bool) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="clear the kill switch and the reconciliation and drawdown "
        "halts (the daily loss halt clears itself the next trading day)",
        epilog="exit codes: 0 done (also when nothing was set); 2 configuration or usage; 3 the "
               "database is unreachable")
    parser.add_argument("--reason", required=reason_required,
                        help="why (recorded with your user name)")
    return parser


@handles_errors
def resume(argv: Sequence[str] | None = None, *, now: Clock = system_clock,
           prog: str = "trading-monitor resume", reason_required: bool = True) -> int:
    args = _resume_parser(prog, reason_required).parse_args(argv)
    settings = load_settings()
    setup_logging(settings.log_level)
    why = f"resumed by {operator_name()}: {args.reason or 'no reason given'}"
    db_config = get_postgres_config(settings=settings)
    with delivered(settings, db_config), TradingDB(config=db_config) as db:
        run_id = new_run_id("operator")
        cleared = [k for k in RESUMABLE if clear_halt(db, run_id, k, why)]
        log_event(db, run_id, "system_state", None, "resume",
                  f"{why}; cleared: {', '.join(cleared) or 'nothing'}",
                  detail={"cleared": cleared})
        if cleared:
            alert(log, "operator", "resume", "trading resumed: %s cleared (%s)",
                  ", ".join(cleared), why)
        states = {s["key"]: s for s in halt_states(db, trading_day(now()),
                                                   settings.trading_halted)}
    print(f"cleared: {', '.join(cleared)} ({why})" if cleared else
          "none of kill_switch, halt_reconciliation, halt_drawdown was set")
    loss = states["halt_daily_loss"]
    print("the daily loss halt is not cleared by resume; it clears itself the next trading "
          "day" + (f" (ACTIVE today: {loss['reason']})" if loss["active"] else " (not set)"))
    if settings.trading_halted:
        print("TRADING_HALTED is set in the environment: entries stay halted until it is "
              "removed")
    return EXIT_OK


def resume_entries(argv: Sequence[str] | None = None) -> int:
    """The older name of `resume`; --reason is optional here."""
    return resume(argv, prog="trading-monitor resume-entries", reason_required=False)
