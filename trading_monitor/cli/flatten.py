"""`trading-monitor flatten TRADE_ID --reason TEXT`: close one trade's position at market now.

It acts at once (not at the next cycle), under the kill switch's advisory locks, and keeps the
position's stop until the exit can go: the stop is cancelled on the broker's final word, then
the market exit is sent; a refused exit, or one that does not fill within
CANCEL_SETTLE_SECONDS, gets the stop back at once. Recorded in event_log (`flatten_requested`,
`flatten`) with who (`cli:<OS user>`) and why. The work is
`trading_monitor.cli.flatten_one.flatten_one`, which the cockpit calls too.

Exit codes: 0 closed; 1 fatal (keys refused); 2 configuration or usage (`--reason` is
required); 3 temporary or not final (the database or broker away, a lock held, a cancel
pending, the exit refused or not filled: the stop is back; run it again); 4 refused: the
trade is not an open position, the market is closed, or the trade was written against
another broker account than the books' (or the keys lead to another: issue 27).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence

from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.base import Broker
from trading_monitor.cli import flatten_one as fo
from trading_monitor.cli.common import (
    EXIT_OK,
    EXIT_TEMPORARY,
    handles_errors,
    operator_name,
    setup_logging,
)
from trading_monitor.clock import Clock, job_clock
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.params import get_postgres_config
from trading_monitor.settings.config import Settings, load_settings

EXIT_REFUSED = 4


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trading-monitor flatten", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trade_id", type=int, help="trade_journal id of the open position")
    parser.add_argument("--reason", required=True, help="why (recorded with your user name)")
    return parser


@handles_errors
def main(argv: Sequence[str] | None = None, *, now: Clock | None = None,
         sleep: Callable[[float], None] = time.sleep) -> int:
    args = _parser().parse_args(argv)
    settings = load_settings(need_broker=True)
    setup_logging(settings.log_level)
    broker = AlpacaBroker(settings)
    with TradingDB(config=get_postgres_config(settings=settings),
                   application_name="trading-monitor flatten") as db:
        result = fo.flatten_one(settings, db, broker,
                                now or job_clock(settings.clock_source.value, broker),
                                args.trade_id, args.reason, f"cli:{operator_name()}",
                                sleep=sleep)
    for line in result.lines:
        print(line)
    print(f"trade #{result.trade_id}: {result.status}")
    if result.ok:
        return EXIT_OK
    return EXIT_REFUSED if result.status in (fo.NOT_OPEN, fo.MARKET_CLOSED, fo.OTHER_ACCOUNT
                                             ) else EXIT_TEMPORARY


def flatten_now(db: TradingDB, settings: Settings, broker: Broker, trade_id: int, reason: str,
                *, now: Clock, sleep: Callable[[float], None] = time.sleep,
                run_id: str | None = None, source: str = "cockpit") -> fo.FlattenResult:
    """The cockpit's entry (trading_monitor/web/actions.py): `flatten_one` with the arguments
    in the order the page calls them. `run_id` is the caller's audit row's; flatten_one
    writes its own `flatten_requested` and `flatten` rows (with `source`)."""
    del run_id  # flatten_one's rows carry their own run id
    return fo.flatten_one(settings, db, broker, now, trade_id, reason, source, sleep=sleep)
