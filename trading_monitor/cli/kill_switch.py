"""`trading-monitor kill-switch --reason TEXT [--flatten]`: stop all new trading now.

1. Sets the `kill_switch` halt in system_state at once (the executor rejects every new entry
   while it is on), recorded in event_log with who (the OS user) and why.
2. Waits for a running executor or monitor cycle to finish (their advisory locks), then
   cancels every live entry order of ours at the broker, on the broker's final word.
3. Without --flatten, positions and their protective orders are kept. With --flatten, every
   open position of ours is closed at market, its protection cancelled first.

Clear it with `trading-monitor resume --reason TEXT`.

Exit codes: 0 done; 1 fatal (keys refused); 2 configuration (the halt is still set when the
database is reachable); 3 temporary, or something not final yet: run it again (it is safe).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.cli import kill_actions as ka
from trading_monitor.cli.common import (
    EXIT_OK,
    EXIT_TEMPORARY,
    handles_errors,
    operator_name,
    setup_logging,
)
from trading_monitor.clock import Clock, job_clock
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.locks import hold_lock
from trading_monitor.db.params import get_postgres_config
from trading_monitor.engine.account_guard import guarded
from trading_monitor.engine.context import Monitor, monitor_settings
from trading_monitor.engine.exits_working import unfilled_lines
from trading_monitor.engine.halts import set_halt
from trading_monitor.engine.job_locks import EXECUTOR_LOCK_KEY, ORDER_MONITOR_LOCK_KEY
from trading_monitor.exceptions import ConfigError
from trading_monitor.ledger.alerts import delivered
from trading_monitor.ledger.installation import installation_id
from trading_monitor.ledger.runs import log_event, new_run_id
from trading_monitor.settings.config import Settings, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trading-monitor kill-switch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reason", required=True, help="why (recorded with your user name)")
    parser.add_argument("--flatten", action="store_true",
                        help="also close every open position at market")
    return parser


@contextmanager
def job_locks(db: TradingDB, settings: Settings, sleep: Callable[[float], None]
              ) -> Iterator[None]:
    """The executor's and the monitors' locks: no cycle acts while the kill switch does."""
    wait = settings.executor_lock_wait_seconds
    with hold_lock(db, EXECUTOR_LOCK_KEY, "order executor", wait, sleep), \
            hold_lock(db, ORDER_MONITOR_LOCK_KEY, "order or position monitor", wait, sleep):
        yield


def broker_settings() -> Settings:
    try:
        return load_settings(need_broker=True)
    except ConfigError:
        print("the kill switch is ON, but nothing was cancelled at the broker:",
              file=sys.stderr)
        raise


def act(m: Monitor, flatten: bool) -> ka.KillReport:
    report = ka.KillReport()
    ka.settle(m, ka.cancel_entries(m, report), report)
    if not report.entries_seen:
        report.lines.append("no live entry order of ours to cancel")
    if flatten:
        ka.flatten_positions(m, report)
        left = ka.broker_leftovers(m)
        if left:
            report.problem("still held at the broker: " + ", ".join(left))
        for line in unfilled_lines(m.db):  # issue 21: every exit not filled at the end
            report.problem(line)
    else:
        kept = ka.live_protection(m)
        report.lines.append(f"kept {len(kept)} live protective order(s) of open positions "
                            "(--flatten closes the positions)")
    return report


def _record(db: TradingDB, run_id: str, why: str, report: ka.KillReport,
            flatten: bool) -> None:
    log_event(db, run_id, "system_state", None, "kill_switch",
              f"kill switch {why}: {len(report.cancelled)} entr(ies) cancelled"
              + (f", {len(report.flattened)} position(s) flattened" if flatten else "")
              + (f"; {len(report.problems)} problem(s)" if report.problems else ""),
              to_status="on", detail={"cancelled": report.cancelled,
                                      "flattened": report.flattened,
                                      "problems": report.problems, "flatten": flatten})


@handles_errors
def main(argv: Sequence[str] | None = None, *, now: Clock | None = None,
         sleep: Callable[[float], None] = time.sleep) -> int:
    args = _parser().parse_args(argv)
    settings = load_settings()
    setup_logging(settings.log_level)
    why = f"by {operator_name()}: {args.reason}"
    db_config = get_postgres_config(settings=settings)
    with delivered(settings, db_config), TradingDB(
            config=db_config, application_name="trading-monitor kill switch") as db:
        run_id = new_run_id("kill_switch")
        was_off = set_halt(db, run_id, "kill_switch", "on", why)
        print(f"kill switch ON ({why}){'' if was_off else ' - it was already on'}: new "
              "entries are rejected until `trading-monitor resume`")
        full = broker_settings()
        # Guarded: keys leading to another account than the books' refuse (exit 1, both ids
        # named) before anything is cancelled or sold there; the halt above stays on.
        broker = guarded(db, AlpacaBroker(full), run_id)
        with job_locks(db, full, sleep):
            m = Monitor(db=db, broker=broker, run_id=run_id, installation=installation_id(db),
                        config=monitor_settings(full),
                        now=now or job_clock(full.clock_source.value, broker), sleep=sleep)
            report = act(m, args.flatten)
        _record(db, run_id, why, report, args.flatten)
    for line in report.lines:
        print(line)
    return EXIT_TEMPORARY if report.problems else EXIT_OK
