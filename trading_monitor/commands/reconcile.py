"""`trading-monitor reconcile`: the operator's word on what reconciliation cannot decide.

    trading-monitor reconcile                                    # the account and any incident
    trading-monitor reconcile --accept-gone 3,4 --reason TEXT    # close exactly those trades
    trading-monitor reconcile --adopt-account ID --reason TEXT   # the books follow account ID
                                                                 # (the fill feed read afresh)

Each action is recorded with the OS user and the reason (event_log). Both hold the monitors'
advisory lock, so no cycle acts on the same trades meanwhile.

Exit codes: 0 done (or shown), 2 configuration or usage, 3 database unreachable or a job
held its lock too long, 4 refused (a trade not found gone, nothing closed).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from trading_monitor.account_guard import ACCOUNT_KEY, MISMATCH_KEY, adopt_account
from trading_monitor.alerts import delivered
from trading_monitor.clock import Clock, system_clock
from trading_monitor.commands.common import (
    EXIT_OK,
    handles_errors,
    operator_name,
    setup_logging,
)
from trading_monitor.config import get_postgres_config, load_settings
from trading_monitor.db_layer import TradingDB
from trading_monitor.ledger import Ledger
from trading_monitor.locks import hold_lock
from trading_monitor.order_monitor.service import ORDER_MONITOR_LOCK_KEY
from trading_monitor.position_monitor.accept import NotGone, accept_gone
from trading_monitor.position_monitor.incident import open_incident
from trading_monitor.runs import new_run_id

EXIT_REFUSED = 4


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trading-monitor reconcile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    act = parser.add_mutually_exclusive_group()
    act.add_argument("--accept-gone", metavar="TRADE_IDS",
                     help="comma-separated trade ids the broker no longer holds: closed, "
                          "EXTERNAL, at the last known price, marked estimated")
    act.add_argument("--adopt-account", metavar="ACCOUNT_ID",
                     help="the broker account the books describe from now on")
    parser.add_argument("--reason", help="why (required with an action; recorded with your "
                                         "user name)")
    return parser


def trade_ids(text: str) -> list[int]:
    parts = [p for p in text.replace(",", " ").split() if p]
    ids = [int(p.lstrip("#")) for p in parts]
    if not ids:
        raise ValueError("no trade id given")
    return list(dict.fromkeys(ids))


@handles_errors
def main(argv: Sequence[str] | None = None, *, now: Clock = system_clock) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if (args.accept_gone or args.adopt_account) and not (args.reason or "").strip():
        parser.error("--reason is required")
    ids: list[int] = []
    if args.accept_gone:
        try:
            ids = trade_ids(args.accept_gone)
        except ValueError as exc:
            parser.error(f"--accept-gone: {exc}")
    settings = load_settings()
    setup_logging(settings.log_level)
    why = f"by {operator_name()}: {args.reason}"
    db_config = get_postgres_config(settings=settings)
    with delivered(settings, db_config), TradingDB(config=db_config) as db:
        if not ids and not args.adopt_account:
            return _show(db)
        run_id = new_run_id("operator")
        with hold_lock(db, ORDER_MONITOR_LOCK_KEY, "order or position monitor",
                       settings.executor_lock_wait_seconds, time.sleep):
            if args.adopt_account:
                adopt_account(db, run_id, args.adopt_account, f"adopted {why}")
                print(f"the books now describe broker account {args.adopt_account} ({why})")
                return EXIT_OK
            try:
                done = accept_gone(db, Ledger(db, run_id, now), ids, why, now())
            except NotGone as exc:
                print(str(exc))
                return EXIT_REFUSED
    print("\n".join(done))
    return EXIT_OK


def _show(db: TradingDB) -> int:
    values = {k: db.named("system_value", {"key": k}) for k in (ACCOUNT_KEY, MISMATCH_KEY)}
    account = values[ACCOUNT_KEY][0]["value"] if values[ACCOUNT_KEY] else None
    mismatch = values[MISMATCH_KEY][0]["value"] if values[MISMATCH_KEY] else None
    print(f"broker account of the books: {account or 'not recorded yet'}")
    if mismatch:
        print(f"MISMATCH: the broker's keys lead to account {mismatch}; every job refuses")
    incident = open_incident(db)
    if incident is None:
        print("no reconciliation incident")
    else:
        print(f"reconciliation INCIDENT since {incident.get('opened_at')}: "
              f"{incident.get('cause')}; trades {incident.get('trades')}")
    return EXIT_OK
