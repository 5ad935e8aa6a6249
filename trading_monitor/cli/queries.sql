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

-- name: open_trades
SELECT t.id, t.symbol, t.side, t.status, t.trade_style, t.origin,
       COALESCE(p.qty, t.actual_qty, t.planned_qty) AS qty,
       p.qty AS position_qty,
       COALESCE(t.actual_entry_price, t.planned_entry_price) AS entry_price,
       p.current_price, p.unrealized_pnl, COALESCE(p.mark_stale, false) AS mark_stale,
       p.last_price_at,
       (SELECT o.stop_price FROM order_execution o
         WHERE o.trade_journal_id = t.id AND o.order_role = 'STOP_LOSS'
           AND o.order_status = ANY(%(live)s)
         ORDER BY o.id DESC LIMIT 1) AS stop_price,
       (SELECT COALESCE(sum(o.qty - o.filled_qty), 0) FROM order_execution o
         WHERE o.trade_journal_id = t.id AND o.order_role = 'STOP_LOSS'
           AND o.order_status = ANY(%(live)s)) AS stop_qty
FROM trade_journal t
LEFT JOIN position_tracking p ON p.trade_journal_id = t.id
WHERE t.status IN ('PENDING', 'POSITION')
ORDER BY t.id

-- name: realised
SELECT COALESCE(sum(actual_pnl), 0) AS realised, count(*) AS closed
FROM trade_journal
WHERE status = 'CLOSED' AND exit_date >= %(start)s AND exit_date < %(end)s

-- name: last_job_runs
SELECT DISTINCT ON (job_name) job_name, run_id, mode, status, started_at, finished_at, error
FROM job_run
ORDER BY job_name, started_at DESC, id DESC

-- name: heartbeats
SELECT host, pid, role, started_at, beat_at, trading_paused, notify_listener
FROM daemon_heartbeat
ORDER BY beat_at DESC, id DESC

-- name: unallocated_fees
SELECT COALESCE(sum(amount), 0) AS amount,
       count(DISTINCT fee_activity_id) FILTER (WHERE basis = 'unallocated') AS fees
FROM fee_allocation WHERE trade_journal_id IS NULL

-- name: our_stops
SELECT trade_journal_id, alpaca_order_id FROM order_execution
WHERE order_role = 'STOP_LOSS' AND alpaca_order_id IS NOT NULL
  AND trade_journal_id = ANY(%(trades)s)

-- name: pending_submit_intents
SELECT id, client_order_id, created_at FROM order_execution
WHERE order_status = 'pending_submit' AND created_at < %(before)s
ORDER BY id

-- name: open_issues
SELECT kind, symbol FROM reconciliation_issue
WHERE resolved_at IS NULL ORDER BY id

-- name: schema_versions
SELECT version FROM schema_migrations

-- name: recent_runs
SELECT status FROM job_run WHERE job_name = %(job)s AND status IN ('SUCCEEDED', 'PARTIAL',
  'FAILED') ORDER BY started_at DESC, id DESC LIMIT 2

-- name: live_entries
SELECT * FROM order_execution
WHERE order_role = 'ENTRY' AND alpaca_order_id IS NOT NULL AND order_status = ANY(%(live)s)
ORDER BY id

-- name: unsent_entries
SELECT * FROM order_execution
WHERE order_role = 'ENTRY' AND order_status = 'pending_submit' ORDER BY id

-- name: live_exit_legs
SELECT * FROM order_execution WHERE order_role IN ('STOP_LOSS', 'TAKE_PROFIT')
AND alpaca_order_id IS NOT NULL AND order_status = ANY(%(live)s) ORDER BY id

-- name: public_tables
SELECT table_name, table_type FROM information_schema.tables
WHERE table_schema = 'public' ORDER BY table_name

-- name: analysis_decision_columns
SELECT column_name FROM information_schema.columns
WHERE table_schema = 'public' AND table_name = %s

-- name: updated_at_trigger_exists
SELECT 1 FROM pg_trigger WHERE tgrelid = 'analysis_decision'::regclass
AND tgname = %s AND NOT tgisinternal

-- name: last_job_time
SELECT max(started_at) AS at FROM job_run
WHERE status NOT IN ('MISSED', 'SKIPPED')
