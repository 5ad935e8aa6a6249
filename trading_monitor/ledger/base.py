"""What every part of the ledger shares: the connection, the run and the clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from trading_monitor.db.connection import TradingDB


class LedgerBase:
    """Every write goes through `db`: inside the caller's transaction when one is open."""

    def __init__(self, db: TradingDB, run_id: str, now: Callable[[], datetime]):
        self.db, self.run_id, self.now = db, run_id, now
