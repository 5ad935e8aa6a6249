-- The checker's reads (invariants/read.py), in one read-only REPEATABLE READ transaction.

-- name: decisions
-- A production analysis_decision may lack created_at or name its columns differently:
-- everything but id and executed is read through to_jsonb (NULL when absent).
SELECT d.id, d.executed IS TRUE AS executed,
       to_jsonb(d) ->> 'ticker' AS ticker, to_jsonb(d) ->> 'primary_action' AS primary_action,
       extract(epoch FROM now() - (to_jsonb(d) ->> 'created_at')::timestamptz) AS age_seconds
FROM analysis_decision d ORDER BY d.id

-- name: outcomes
SELECT id, analysis_decision_id, terminal_state, trade_journal_id, client_order_id
FROM decision_outcome ORDER BY id

-- name: trades
SELECT id, created_at, initial_analysis_id, symbol, side, status, protection_mode, origin,
       actual_entry_price, actual_qty, entry_date, first_fill_at, exit_date, exit_price,
       exit_reason_code, exit_estimated, actual_pnl, fees
FROM trade_journal ORDER BY id

-- name: orders
SELECT id, trade_journal_id, analysis_decision_id, client_order_id, alpaca_order_id,
       parent_order_execution_id, order_role, purpose, symbol, side, order_type, order_class,
       qty, filled_qty, order_status, submitted_at
FROM order_execution ORDER BY id

-- name: fills
SELECT id, alpaca_order_id, order_execution_id, trade_journal_id, symbol, side, qty, price,
       fee, filled_at
FROM fills ORDER BY filled_at, id

-- name: positions
SELECT id, trade_journal_id, symbol, side, qty FROM position_tracking ORDER BY id

-- name: halt_events
SELECT id, created_at, event, message, from_status, to_status FROM event_log
WHERE entity = 'system_state' AND event IN ('halt_set', 'halt_cleared')
ORDER BY created_at, id

-- name: snapshots
SELECT id, created_at, trading_day, snapshot_type, reconciliation_status, discrepancies
FROM broker_snapshot ORDER BY created_at, id

-- name: halt_settings
SELECT key, value, reason, updated_at FROM system_state WHERE key = ANY(%(keys)s) ORDER BY key

-- name: rows_by_client_id
SELECT id, trade_journal_id, analysis_decision_id, client_order_id, alpaca_order_id
FROM order_execution WHERE client_order_id = ANY(%(ids)s) ORDER BY id

-- name: repeatable_read
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY
