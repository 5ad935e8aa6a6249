-- name: foreign_keys
-- Integrity lives in code (NocoDB); this must always return no rows.
SELECT conrelid::regclass::text AS table_name, conname
FROM pg_constraint
WHERE contype = 'f' AND connamespace = 'public'::regnamespace;

-- name: claim_next_decision
-- One unexecuted decision, locked for this transaction; SKIP LOCKED lets a second
-- executor pass it by. NocoDB checkboxes may leave NULL, hence IS NOT TRUE.
-- The age is computed here, from the job's clock: a production table may lack created_at
-- (read through to_jsonb, NULL then) or hold it without a time zone (read as UTC, the
-- session's zone), and neither may keep a decision waiting. An infinite created_at
-- ('-infinity' reads as ancient, so stale; 'infinity' as now) must not fail the claim.
SELECT d.*,
       %(now)s::timestamptz - GREATEST(LEAST((to_jsonb(d) ->> 'created_at')::timestamptz,
                                             %(now)s::timestamptz), '0001-01-01Z') AS decision_age
FROM analysis_decision d
WHERE d.executed IS NOT TRUE AND d.id > %(after_id)s
ORDER BY d.id
LIMIT 1
FOR UPDATE OF d SKIP LOCKED;

-- name: peek_next_decision
-- The dry run's claim: the same row without a lock (a read-only session takes none).
SELECT d.*,
       %(now)s::timestamptz - GREATEST(LEAST((to_jsonb(d) ->> 'created_at')::timestamptz,
                                             %(now)s::timestamptz), '0001-01-01Z') AS decision_age
FROM analysis_decision d
WHERE d.executed IS NOT TRUE AND d.id > %(after_id)s
ORDER BY d.id
LIMIT 1;

-- name: order_age
SELECT %(now)s::timestamptz - created_at AS age FROM order_execution WHERE id = %(order_id)s;

-- name: deferrals_of_decision
SELECT message FROM event_log
WHERE entity = 'analysis_decision' AND entity_id = %(decision_id)s AND event = 'deferred'
ORDER BY id;

-- name: entries_past_expiry
-- DAY entries the broker holds as GTC (a SWING bracket), past the session they were for.
SELECT * FROM order_execution o
WHERE order_role = 'ENTRY' AND entry_expires_at <= %(now)s
  AND order_status <> ALL(%(final)s)  -- may fill (order_status.SQL_PARAMS)
  AND NOT EXISTS (SELECT 1 FROM trade_journal t WHERE t.id = o.trade_journal_id
                  AND t.broker_account_id <> tm_broker_account_id())  -- see tracked_orders
ORDER BY id;

-- name: mark_decision_executed
UPDATE analysis_decision
SET executed = true,
    execution_time = %(now)s,
    existing_order_id = COALESCE(%(existing_order_id)s, existing_order_id),
    existing_trade_journal_id = COALESCE(%(existing_trade_journal_id)s, existing_trade_journal_id)
WHERE id = %(decision_id)s;

-- name: insert_outcome
INSERT INTO decision_outcome (run_id, analysis_decision_id, primary_action, ticker,
                              terminal_state, reason, trade_journal_id, client_order_id)
VALUES (%(run_id)s, %(decision_id)s, %(primary_action)s, %(ticker)s, %(terminal_state)s,
        %(reason)s, %(trade_journal_id)s, %(client_order_id)s)
ON CONFLICT (analysis_decision_id) DO NOTHING
RETURNING id;

-- name: outcome_for_decision
SELECT * FROM decision_outcome WHERE analysis_decision_id = %(decision_id)s;

-- name: orders_for_decision
SELECT * FROM order_execution WHERE analysis_decision_id = %(decision_id)s ORDER BY id;

-- name: orders_for_journal
SELECT * FROM order_execution WHERE trade_journal_id = %(trade_journal_id)s ORDER BY id;

-- name: amendments_of_entry
-- Replacement entries (AMEND intents) of other decisions written in place of one entry,
-- waiting to go out or sent; one given up (not_sent) no longer stands in its way.
SELECT * FROM order_execution
WHERE replaces_order_execution_id = %(entry_id)s AND analysis_decision_id <> %(decision_id)s
  AND order_status <> 'not_sent'
ORDER BY id;

-- name: order_by_any_id
-- CANCEL/AMEND may name an order by Alpaca id or by our client order id.
SELECT * FROM order_execution
WHERE alpaca_order_id = %(order_id)s OR client_order_id = %(order_id)s
ORDER BY id DESC
LIMIT 1;

-- name: open_trades
-- Open trades of the books' broker account (issue 27): a trade written against another
-- account (held there since `reconcile --adopt-account ... --leave-open-trades`) is not
-- ours to trade or reconcile in this one; trades_held_elsewhere lists them. NULL on either
-- side (no account known yet) counts as ours.
SELECT * FROM trade_journal WHERE status IN ('PENDING', 'POSITION')
  AND COALESCE(broker_account_id = tm_broker_account_id(), true)
ORDER BY id;

-- name: latest_open_trade_for_symbol
SELECT * FROM trade_journal
WHERE symbol = %(symbol)s AND status IN ('PENDING', 'POSITION')
  AND COALESCE(broker_account_id = tm_broker_account_id(), true)  -- see open_trades
ORDER BY id DESC
LIMIT 1;

-- name: symbols_closed_since
SELECT DISTINCT symbol FROM trade_journal
WHERE status = 'CLOSED' AND exit_date >= %(since)s;

-- name: age_trade
UPDATE trade_journal SET days_open = days_open + 1, run_id = %(run_id)s
WHERE id = %(trade_journal_id)s AND status IN ('PENDING', 'POSITION')
RETURNING days_open;

-- name: remember_start_equity
INSERT INTO daily_equity (trading_day, start_equity, run_id)
VALUES (%(trading_day)s, %(start_equity)s, %(run_id)s)
ON CONFLICT (trading_day) DO NOTHING;

-- name: start_equity
SELECT start_equity FROM daily_equity WHERE trading_day = %(trading_day)s;

-- name: system_value
SELECT value, reason FROM system_state WHERE key = %(key)s;

-- name: log_event
INSERT INTO event_log (run_id, entity, entity_id, event, from_status, to_status, message, detail)
VALUES (%(run_id)s, %(entity)s, %(entity_id)s, %(event)s, %(from_status)s, %(to_status)s,
        %(message)s, %(detail)s)
RETURNING id;

-- name: unexecuted_decisions
SELECT * FROM analysis_decision WHERE executed IS NOT TRUE ORDER BY id;

-- name: upsert_fill
-- (xmax = 0) is true for a row this statement inserted, false for one it updated.
INSERT INTO fills (run_id, alpaca_order_id, order_execution_id, trade_journal_id, activity_id,
                   execution_id, symbol, side, qty, cum_qty, price, fee, filled_at, source,
                   leaves_qty)
VALUES (%(run_id)s, %(alpaca_order_id)s, %(order_execution_id)s, %(trade_journal_id)s,
        %(activity_id)s, %(execution_id)s, %(symbol)s, %(side)s, %(qty)s, %(cum_qty)s,
        %(price)s, %(fee)s, %(filled_at)s, %(source)s, %(leaves_qty)s)
ON CONFLICT (alpaca_order_id, cum_qty) DO UPDATE
SET activity_id = COALESCE(fills.activity_id, EXCLUDED.activity_id),
    execution_id = COALESCE(fills.execution_id, EXCLUDED.execution_id),
    order_execution_id = COALESCE(fills.order_execution_id, EXCLUDED.order_execution_id),
    trade_journal_id = COALESCE(fills.trade_journal_id, EXCLUDED.trade_journal_id),
    fee = COALESCE(fills.fee, EXCLUDED.fee),
    leaves_qty = COALESCE(fills.leaves_qty, EXCLUDED.leaves_qty)
RETURNING (xmax = 0) AS inserted;

-- name: set_system_value
INSERT INTO system_state (key, value, reason) VALUES (%(key)s, %(value)s, %(reason)s)
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, reason = EXCLUDED.reason;

-- name: tracked_orders
-- Our orders the broker may still change: sent, and not in a final state; not those of a
-- trade held at another broker account (see open_trades: that account is not read).
SELECT * FROM order_execution o
WHERE alpaca_order_id IS NOT NULL
  AND order_status <> ALL(%(final)s)  -- may fill (order_status.SQL_PARAMS)
  AND NOT EXISTS (SELECT 1 FROM trade_journal t WHERE t.id = o.trade_journal_id
                  AND t.broker_account_id <> tm_broker_account_id())
ORDER BY id;

-- name: orders_by_alpaca_ids
SELECT * FROM order_execution WHERE alpaca_order_id = ANY(%(ids)s) ORDER BY id;

-- name: fills_of_orders
SELECT alpaca_order_id, COALESCE(sum(qty), 0) AS qty, max(cum_qty) AS cum_qty
FROM fills WHERE alpaca_order_id = ANY(%(ids)s) GROUP BY alpaca_order_id;

-- name: open_trade_ids
-- The trades the order and position monitors manage: the books' account's (see open_trades).
SELECT id FROM trade_journal WHERE status IN ('PENDING', 'POSITION')
  AND COALESCE(broker_account_id = tm_broker_account_id(), true)
ORDER BY id;

-- name: open_trades_any_account
-- Every open trade, whichever account it was written against (`reconcile --adopt-account`).
SELECT * FROM trade_journal WHERE status IN ('PENDING', 'POSITION') ORDER BY id;

-- name: trade_ids_of_other_accounts
-- Every trade written against another account than the books' (open or not): `check` does
-- not look for their orders in this account (invariants/elsewhere.py).
SELECT id FROM trade_journal WHERE broker_account_id <> tm_broker_account_id() ORDER BY id;

-- name: trades_held_elsewhere
-- Open trades written against another broker account than the books' (issue 27): no job
-- touches them; status, health, the report and `check` show them.
SELECT * FROM trade_journal
WHERE status IN ('PENDING', 'POSITION') AND broker_account_id <> tm_broker_account_id()
ORDER BY id;

-- name: trades_by_ids
SELECT * FROM trade_journal WHERE id = ANY(%(ids)s) ORDER BY id;

-- name: orders_of_trades
SELECT * FROM order_execution WHERE trade_journal_id = ANY(%(ids)s) ORDER BY id;

-- name: fills_of_trades
SELECT * FROM fills WHERE trade_journal_id = ANY(%(ids)s) ORDER BY filled_at, id;

-- name: orphan_protective_orders
-- Live closing orders of ours whose trade is no longer a position.
SELECT o.* FROM order_execution o
JOIN trade_journal t ON t.id = o.trade_journal_id
WHERE o.order_role <> 'ENTRY' AND t.status NOT IN ('PENDING', 'POSITION')
  AND o.alpaca_order_id IS NOT NULL
  AND o.order_status <> ALL(%(not_at_broker)s)  -- at the broker (order_status.SQL_PARAMS)
  AND t.updated_at <= %(before)s
  AND COALESCE(t.broker_account_id = tm_broker_account_id(), true)  -- see tracked_orders
ORDER BY o.id;

-- name: upsert_position
INSERT INTO position_tracking (run_id, trade_journal_id, symbol, side, qty, avg_entry_price)
VALUES (%(run_id)s, %(trade_journal_id)s, %(symbol)s, %(side)s, %(qty)s, %(avg_entry_price)s)
ON CONFLICT (trade_journal_id) DO UPDATE
SET qty = EXCLUDED.qty, avg_entry_price = EXCLUDED.avg_entry_price, run_id = EXCLUDED.run_id;

-- name: delete_position
DELETE FROM position_tracking WHERE trade_journal_id = %(trade_journal_id)s;

-- name: positions_of_trades
SELECT * FROM position_tracking WHERE trade_journal_id = ANY(%(ids)s);

-- name: delete_system_value
DELETE FROM system_state WHERE key = %(key)s;

-- name: first_contract_deferral
-- The first time a broken broker contract held this decision back (its entry's session).
SELECT detail FROM event_log
WHERE entity = 'analysis_decision' AND entity_id = %(decision_id)s
  AND event = 'deferred_contract' AND detail->>'session_close' IS NOT NULL
ORDER BY id
LIMIT 1;

-- name: stamp_account_on_trades
-- Rows written before the books' broker account was known take it (engine/account_guard.py).
UPDATE trade_journal SET broker_account_id = %(account_id)s WHERE broker_account_id IS NULL;

-- name: stamp_account_on_snapshots
UPDATE broker_snapshot SET broker_account_id = %(account_id)s WHERE broker_account_id IS NULL;

-- name: locks_unlock
SELECT pg_advisory_unlock(%s) AS ok

-- name: locks_try_lock
SELECT pg_try_advisory_lock(%s) AS ok

-- name: db_layer_ping
SELECT 1 AS ok

-- name: db_clock_set_now
SELECT set_config('trading_monitor.now', {}, true);

-- name: nocodb_verify_sequences
-- CASE: only sequences are asked about.
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND CASE WHEN c.relkind = 'S'
THEN has_sequence_privilege(%s, c.oid, 'UPDATE') END ORDER BY 1
