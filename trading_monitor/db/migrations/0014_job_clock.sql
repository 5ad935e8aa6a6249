-- Lifecycle times never mix two clocks. A job's statements carry its clock's time in
-- `trading_monitor.now` (trading_monitor/db_clock.py, set per transaction); tm_now() is that
-- time, or the database's now() when it is not set: an edit made outside the jobs (NocoDB,
-- psql). Simulated in the demo, the jobs' clock then stamps every row they write.
CREATE OR REPLACE FUNCTION tm_now() RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('trading_monitor.now', true), '')::timestamptz,
                    now())
$$;

-- The updated_at trigger keeps a value the statement set itself, and otherwise takes
-- tm_now(): the job's clock for the jobs' edits, now() for everyone else's.
CREATE OR REPLACE FUNCTION tm_set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := tm_now();
    END IF;
    RETURN NEW;
END;
$$;

-- Our tables' created_at and updated_at (and job_run.started_at) default to tm_now().
-- analysis_decision is n8n's (production's own table): its defaults stay as they are.
DO $$
DECLARE
    col record;
BEGIN
    FOR col IN
        SELECT c.table_name, c.column_name
        FROM information_schema.columns c
        JOIN information_schema.tables t
          ON t.table_schema = c.table_schema AND t.table_name = c.table_name
        WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
          AND c.table_name IN ('trade_journal', 'order_execution', 'position_tracking',
                               'job_run', 'decision_outcome', 'broker_snapshot', 'event_log',
                               'daily_equity', 'system_state', 'fills', 'reconciliation_issue',
                               'alert', 'fee_activity', 'fee_allocation')
          AND (c.column_name IN ('created_at', 'updated_at')
               OR (c.table_name = 'job_run' AND c.column_name = 'started_at'))
    LOOP
        EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET DEFAULT tm_now()',
                       col.table_name, col.column_name);
    END LOOP;
END;
$$;
