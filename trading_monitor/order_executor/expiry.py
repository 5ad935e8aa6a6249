"""DAY entries the broker holds as GTC, withdrawn once their session is over.

A SWING bracket goes out GTC so that its stop outlives the day (Alpaca gives a bracket one
time in force); the trader's DAY entry is honoured by cancelling the unfilled entry after
the close. A partly filled one keeps its shares as a position.
"""

from __future__ import annotations

import logging

from trading_monitor.domain.lifecycle import TradeStatus
from trading_monitor.domain.order_status import SQL_PARAMS
from trading_monitor.exceptions import DatabaseUnavailable, FatalError, TradingMonitorError
from trading_monitor.order_executor.context import Executor
from trading_monitor.order_executor.withdraw import Withdrawal, withdraw

log = logging.getLogger(__name__)


def expire_day_entries(ex: Executor) -> int:
    """Withdraw every entry past its session; returns how many reached a final state.

    Each entry in its own transaction: one that the broker does not settle yet (a pending
    cancel) is looked at again next cycle and does not hold up the others.
    """
    done = 0
    for entry in ex.claims.named("entries_past_expiry", {"now": ex.now(), **SQL_PARAMS}):
        try:
            with ex.claims.transaction():
                result = withdraw(ex, entry, "DAY entry unfilled at the end of its session",
                                  cancelled_as=TradeStatus.EXPIRED)
        except (FatalError, DatabaseUnavailable):
            raise
        except TradingMonitorError as exc:
            log.warning("expiry of %s deferred: %s", entry["client_order_id"], exc)
            continue
        if result.outcome is Withdrawal.UNSETTLED:
            log.warning("expiry of %s not final: %s", entry["client_order_id"], result.detail)
        else:
            done += 1
            log.info("entry %s past its DAY session: %s", entry["client_order_id"],
                     result.outcome.value)
    return done
