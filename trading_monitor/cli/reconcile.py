"""`trading-monitor reconcile`: the operator's word on what reconciliation cannot decide.

    trading-monitor reconcile                                    # the account and any incident
    trading-monitor reconcile --accept-gone 3,4 --reason TEXT    # close exactly those trades
    trading-monitor reconcile --adopt-account ID --reason TEXT   # the books follow account ID
                                                                 # (the fill feed read afresh)
    trading-monitor reconcile --adopt-account ID --leave-open-trades --reason TEXT

Adopting an account while trades written against the old one are open is refused (exit 4,
they are listed): their shares and stops are in the old account, which no job reads once
another is adopted. Close them first (with the old keys: `kill-switch --flatten`, or by hand
and then `--accept-gone`), or say `--leave-open-trades`: they stay open in the books as they
are, "held at account OLD, not managed" (event_log, `status`, `health` WARNING, the report,
`check`), and no job sends an order or books a close for them until OLD is adopted again.

Each action is recorded with the OS user and the reason (event_log). Both hold the monitors'
advisory lock, so no cycle acts on the same trades meanwhile.

Exit codes: 0 done (or shown), 2 configuration or usage, 3 database unreachable or a job
held its lock too long, 4 refused (a trade not found gone, nothing closed).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from trading_monitor.cli.common import (
    EXIT_OK,
    handles_errors,
    operator_name,
    setup_logging,
)
from trading_monitor.clock import Clock, system_clock
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.locks import hold_lock
from trading_monitor.db.params import get_postgres_config
from trading_monitor.engine.account_guard import (
    ACCOUNT_KEY,
    MISMATCH_KEY,
    adopt_account,
    recorded_account,
    trades_held_elsewhere,
)
from trading_monitor.engine.incident_state import open_incident
from trading_monitor.engine.job_locks import ORDER_MONITOR_LOCK_KEY
from trading_monitor.ledger import Ledger
from trading_monitor.ledger.alerts import delivered
from trading_monitor.ledger.runs import log_event, new_run_id
from trading_monitor.position_monitor.accept import NotGone, accept_gone
from trading_monitor.settings.config import load_settings

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
    parser.add_argument("--leave-open-trades", action="store_true",
                        help="with --adopt-account: the old account's open trades stay open "
                             "in the books, held there and not managed")
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
    if args.leave_open_trades and not args.adopt_account:
        parser.error("--leave-open-trades goes with --adopt-account")
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
                return _adopt(db, run_id, args.adopt_account, why, args.leave_open_trades)
            try:
                done = accept_gone(db, Ledger(db, run_id, now), ids, why, now())
            except NotGone as exc:
                print(str(exc))
                return EXIT_REFUSED
    print("\n".join(done))
    return EXIT_OK


def _adopt(db: TradingDB, run_id: str, account: str, why: str, leave: bool) -> int:
    """Adopt `account`; refused while another account's trades are open, unless `leave`."""
    before = recorded_account(db)
    left = [t for t in db.named("open_trades_any_account")
            if t["broker_account_id"] not in (None, account)]
    if left and not leave:
        print(f"not adopted: {len(left)} open trade(s) were written against another account "
              "than " + account + "; their shares and orders are there, and no job would "
              "manage them after the adoption:")
        print("\n".join(_line(t) for t in left))
        print("close them first (with that account's keys: `trading-monitor kill-switch "
              "--flatten`, or by hand, then `--accept-gone`), or repeat with "
              "--leave-open-trades to keep them open in the books, held there, not managed")
        return EXIT_REFUSED
    adopt_account(db, run_id, account, f"adopted {why}"
                  + (f"; {len(left)} open trade(s) left at their account" if left else ""))
    for t in left:
        log_event(db, run_id, "trade_journal", int(t["id"]), "held_elsewhere",
                  f"held at account {t['broker_account_id']}, not managed: account {account} "
                  f"adopted {why}"[:1000], from_status=before, to_status=account)
    back = [t for t in db.named("open_trades") if before not in (None, account)
            and t["broker_account_id"] == account]
    for t in back:
        log_event(db, run_id, "trade_journal", int(t["id"]), "managed_again",
                  f"account {account} adopted again: managed again ({why})"[:1000],
                  from_status=before, to_status=account)
    print(f"the books now describe broker account {account} ({why})")
    if left:
        print("held at their account, not managed:\n" + "\n".join(_line(t) for t in left))
    if back:
        print("managed again:\n" + "\n".join(_line(t) for t in back))
    return EXIT_OK


def _line(t: dict[str, object]) -> str:
    return (f"  trade #{t['id']} {t['symbol']} {t['status']} at account "
            f"{t['broker_account_id']}")


def _show(db: TradingDB) -> int:
    values = {k: db.named("system_value", {"key": k}) for k in (ACCOUNT_KEY, MISMATCH_KEY)}
    account = values[ACCOUNT_KEY][0]["value"] if values[ACCOUNT_KEY] else None
    mismatch = values[MISMATCH_KEY][0]["value"] if values[MISMATCH_KEY] else None
    print(f"broker account of the books: {account or 'not recorded yet'}")
    if mismatch:
        print(f"MISMATCH: the broker's keys lead to account {mismatch}; every job refuses")
    elsewhere = trades_held_elsewhere(db)
    if elsewhere:
        print("open trades held at another account, not managed:")
        print("\n".join(_line(t) for t in elsewhere))
    incident = open_incident(db)
    if incident is None:
        print("no reconciliation incident")
    else:
        print(f"reconciliation INCIDENT since {incident.get('opened_at')}: "
              f"{incident.get('cause')}; trades {incident.get('trades')}")
    return EXIT_OK
