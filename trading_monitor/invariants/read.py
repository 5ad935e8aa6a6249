"""Reading the books for the checker: every row it needs, in one read-only REPEATABLE READ
transaction, so the tables agree with each other as of one moment (the jobs may be writing
meanwhile). Eleven statements, whatever the size of the book."""

from __future__ import annotations

from trading_monitor.db.connection import Row, TradingDB
from trading_monitor.db.queries import Queries
from trading_monitor.engine.halts import ALL_HALT_KEYS
from trading_monitor.invariants.model import Books
from trading_monitor.ledger.installation import installation_id

QUERIES = Queries(__name__)  # queries.sql beside this module


def read_books(db: TradingDB) -> Books:
    with db.transaction():
        db.execute_update(QUERIES["repeatable_read"])

        def rows(statement: str) -> list[Row]:
            return db.execute_query(statement)

        return Books(
            installation=installation_id(db),
            decisions=rows(QUERIES["decisions"]), outcomes=rows(QUERIES["outcomes"]),
            trades=rows(QUERIES["trades"]), orders=rows(QUERIES["orders"]),
            fills=rows(QUERIES["fills"]), positions=rows(QUERIES["positions"]),
            halt_events=rows(QUERIES["halt_events"]), snapshots=rows(QUERIES["snapshots"]),
            halt_settings=db.execute_query(QUERIES["halt_settings"],
                                           {"keys": list(ALL_HALT_KEYS)}))


def rows_by_client_id(db: TradingDB, client_ids: list[str]) -> list[Row]:
    """Our order rows by client order id, read fresh (after the snapshot)."""
    return db.execute_query(QUERIES["rows_by_client_id"], {"ids": client_ids}) if client_ids else []
