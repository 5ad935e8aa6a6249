"""Reading the books for the checker: every row it needs, in one read-only REPEATABLE READ
transaction, so the tables agree with each other as of one moment (the jobs may be writing
meanwhile). Eleven statements, whatever the size of the book."""

from __future__ import annotations

from trading_monitor.db_layer import Row, TradingDB
from trading_monitor.halts import ALL_HALT_KEYS
from trading_monitor.invariants.model import Books
from trading_monitor.ledger.installation import installation_id

# A production analysis_decision may lack created_at or name its columns differently:
# everything but id and executed is read through to_jsonb (NULL when absent).
DECISIONS = """
SELECT d.id, d.executed IS TRUE AS executed,
       to_jsonb(d) ->> 'ticker' AS ticker, to_jsonb(d) ->> 'primary_action' AS primary_action,
       extract(epoch FROM now() - (to_jsonb(d) ->> 'created_at')::timestamptz) AS age_seconds
FROM analysis_decision d ORDER BY d.id
"""
OUTCOMES = """
SELECT id, analysis_decision_id, terminal_state, trade_journal_id, client_order_id
FROM decision_outcome ORDER BY id
"""
TRADES = """
SELECT id, created_at, initial_analysis_id, symbol, side, status, protection_mode, origin,
       actual_entry_price, actual_qty, entry_date, first_fill_at, exit_date, exit_price,
       exit_reason_code, exit_estimated, actual_pnl, fees
FROM trade_journal ORDER BY id
"""
ORDERS = """
SELECT id, trade_journal_id, analysis_decision_id, client_order_id, alpaca_order_id,
       parent_order_execution_id, order_role, purpose, symbol, side, order_type, order_class,
       qty, filled_qty, order_status, submitted_at
FROM order_execution ORDER BY id
"""
FILLS = """
SELECT id, alpaca_order_id, order_execution_id, trade_journal_id, symbol, side, qty, price,
       fee, filled_at
FROM fills ORDER BY filled_at, id
"""
POSITIONS = "SELECT id, trade_journal_id, symbol, side, qty FROM position_tracking ORDER BY id"
HALT_EVENTS = """
SELECT id, created_at, event, message, from_status, to_status FROM event_log
WHERE entity = 'system_state' AND event IN ('halt_set', 'halt_cleared')
ORDER BY created_at, id
"""
SNAPSHOTS = """
SELECT id, created_at, trading_day, snapshot_type, reconciliation_status, discrepancies
FROM broker_snapshot ORDER BY created_at, id
"""
HALT_SETTINGS = """
SELECT key, value, reason, updated_at FROM system_state WHERE key = ANY(%(keys)s) ORDER BY key
"""
ROWS_BY_CLIENT_ID = """
SELECT id, trade_journal_id, analysis_decision_id, client_order_id, alpaca_order_id
FROM order_execution WHERE client_order_id = ANY(%(ids)s) ORDER BY id
"""


def read_books(db: TradingDB) -> Books:
    with db.transaction():
        db.execute_update("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")

        def rows(statement: str) -> list[Row]:
            return db.execute_query(statement)

        return Books(
            installation=installation_id(db),
            decisions=rows(DECISIONS), outcomes=rows(OUTCOMES), trades=rows(TRADES),
            orders=rows(ORDERS), fills=rows(FILLS), positions=rows(POSITIONS),
            halt_events=rows(HALT_EVENTS), snapshots=rows(SNAPSHOTS),
            halt_settings=db.execute_query(HALT_SETTINGS, {"keys": list(ALL_HALT_KEYS)}))


def rows_by_client_id(db: TradingDB, client_ids: list[str]) -> list[Row]:
    """Our order rows by client order id, read fresh (after the snapshot)."""
    return db.execute_query(ROWS_BY_CLIENT_ID, {"ids": client_ids}) if client_ids else []
