-- name: alerts_sent_recently
SELECT 1 AS found FROM alert WHERE kind = %s AND delivery = 'sent'
AND created_at >= tm_now() - %s LIMIT 1

-- name: exits_working_orders
SELECT * FROM order_execution WHERE order_role = 'EXIT'
AND alpaca_order_id IS NOT NULL AND order_status <> ALL(%s) ORDER BY id

-- name: exits_working_logged
SELECT 1 AS x FROM event_log WHERE entity = 'order_execution' AND entity_id = %s
AND event = 'exit_working' LIMIT 1

-- name: halts_peak_upsert
INSERT INTO daily_equity (trading_day, start_equity, run_id, peak_equity, last_equity)
VALUES (%s, %s, %s, %s, %s) ON CONFLICT (trading_day) DO UPDATE SET
last_equity = EXCLUDED.last_equity,
peak_equity = GREATEST(daily_equity.peak_equity, EXCLUDED.peak_equity)

-- name: halts_peak
SELECT max(GREATEST(peak_equity, start_equity)) AS peak
FROM daily_equity

-- name: locks_unlock
SELECT pg_advisory_unlock(%s) AS ok

-- name: locks_try_lock
SELECT pg_try_advisory_lock(%s) AS ok

-- name: runs_finish
UPDATE job_run SET status = %s, finished_at = COALESCE(%s, now()), summary = %s,
error = %s, broker_requests = %s WHERE id = %s AND status = 'RUNNING'

-- name: snapshots_start_equity
INSERT INTO daily_equity (trading_day, start_equity, run_id) VALUES (%s, %s, %s)
ON CONFLICT (trading_day) DO UPDATE SET start_equity = EXCLUDED.start_equity,
run_id = EXCLUDED.run_id

-- name: snapshots_taken
SELECT 1 AS found FROM broker_snapshot WHERE snapshot_type = %s AND trading_day = %s
LIMIT 1

-- name: symbol_halts_ensure
INSERT INTO system_state (key, value, reason) VALUES (%s, '{}', %s)
ON CONFLICT (key) DO NOTHING

-- name: symbol_halts_lock
SELECT value FROM system_state WHERE key = %s FOR UPDATE

-- name: db_layer_ping
SELECT 1 AS ok

-- name: db_clock_set_now
SELECT set_config('trading_monitor.now', {}, true);

-- name: nocodb_whoami
SELECT current_user AS me, current_database() AS dbname

-- name: nocodb_baseline_policy
SELECT 1 AS ok FROM pg_policy WHERE polname = %s
AND polrelid = to_regclass(%s)

-- name: nocodb_role_powers
SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb,
rolreplication, rolcanlogin FROM pg_roles WHERE rolname = %s

-- name: nocodb_decision_sequence
SELECT n.nspname AS nsp, c.relname AS rel FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = pg_get_serial_sequence(%s, 'id')::regclass

-- name: nocodb_submit_function
SELECT 1 AS ok WHERE to_regprocedure(%s) IS NOT NULL

-- name: nocodb_role_may_create
SELECT has_schema_privilege(%s, %s, 'CREATE') AS ok

-- name: nocodb_role_owned_tables
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relowner = (SELECT oid FROM pg_roles
WHERE rolname = %s) ORDER BY 1

-- name: nocodb_role_owns_db_or_schema
SELECT 1 AS ok FROM pg_database d, pg_namespace n WHERE
d.datname = current_database() AND n.nspname = %s AND
(pg_get_userbyid(d.datdba) = %s OR pg_get_userbyid(n.nspowner) = %s)

-- name: nocodb_decision_tables
SELECT c.relname, c.relrowsecurity,
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)
           AS has_pk
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname IN ('analysis_decision', 'system_state')
AND c.relkind IN ('r', 'p')

-- name: nocodb_verify_sequences
-- CASE: only sequences are asked about.
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND CASE WHEN c.relkind = 'S'
THEN has_sequence_privilege(%s, c.oid, 'UPDATE') END ORDER BY 1

-- name: corporate_actions_of_kinds
-- corporate_reads.py: stored actions of these kinds between two days.
SELECT * FROM corporate_action WHERE effective_date BETWEEN %s AND %s AND kind = ANY(%s) ORDER
BY effective_date, id

-- name: open_trade_symbols
-- corporate_reads.py: symbols of our pending and open trades.
SELECT DISTINCT symbol FROM trade_journal WHERE status IN ('PENDING', 'POSITION')

-- name: corporate_action_store_read
-- corporate_reads.py: an announcement read (status, entries), stored once.
INSERT INTO corporate_action (action_id, kind, symbol, new_symbol, old_rate, new_rate,
effective_date, source) VALUES (%s, %s, %s, %s, %s, %s, %s, 'announcement') ON CONFLICT
(action_id) DO NOTHING RETURNING id
