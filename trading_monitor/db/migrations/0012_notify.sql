-- Wake the leader daemon at once when a decision, the kill switch or an exit approval
-- changes (docs/daemon.md, "Acting within a second"). One channel, and the payload names the
-- kind and the row id only: a notification carries no data, the daemon reads the rows.
-- The 2-minute poll stays: a notification lost with a dropped connection only delays.
CREATE OR REPLACE FUNCTION tm_notify_wakeup() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    col text;
BEGIN
    IF TG_TABLE_NAME = 'analysis_decision' THEN
        IF TG_OP = 'UPDATE' THEN
            -- The executor's write-backs set executed = true (or touch no decision column):
            -- only an edit of a pending decision's substance wakes the daemon.
            IF NEW.executed IS TRUE THEN
                RETURN NULL;
            END IF;
            FOREACH col IN ARRAY TG_ARGV LOOP
                IF to_jsonb(OLD) -> col IS DISTINCT FROM to_jsonb(NEW) -> col THEN
                    PERFORM pg_notify('trading_monitor_wakeup', 'decision:' || NEW.id);
                    RETURN NULL;
                END IF;
            END LOOP;
            RETURN NULL;
        END IF;
        PERFORM pg_notify('trading_monitor_wakeup', 'decision:' || NEW.id);
    ELSIF TG_TABLE_NAME = 'system_state' THEN
        IF (TG_OP = 'DELETE' AND OLD.key = 'kill_switch')
           OR (TG_OP <> 'DELETE' AND NEW.key = 'kill_switch')
           OR (TG_OP = 'UPDATE' AND OLD.key = 'kill_switch') THEN
            PERFORM pg_notify('trading_monitor_wakeup', 'kill_switch');
        END IF;
    ELSIF TG_TABLE_NAME = 'position_tracking' THEN
        PERFORM pg_notify('trading_monitor_wakeup', 'exit:' || NEW.id);
    END IF;
    RETURN NULL;
END;
$$;

-- analysis_decision is n8n's and NocoDB's table in production and its columns may vary:
-- the UPDATE trigger watches whichever of the decision's columns exist.
DO $$
DECLARE
    cols text[];
BEGIN
    SELECT array_agg(column_name::text ORDER BY column_name) INTO cols
    FROM information_schema.columns
    WHERE table_schema = current_schema() AND table_name = 'analysis_decision'
      AND column_name IN ('ticker', 'primary_action', 'decision', 'existing_order_id',
                          'existing_trade_journal_id');
    DROP TRIGGER IF EXISTS trg_analysis_decision_notify_insert ON analysis_decision;
    CREATE TRIGGER trg_analysis_decision_notify_insert AFTER INSERT ON analysis_decision
        FOR EACH ROW EXECUTE FUNCTION tm_notify_wakeup();
    DROP TRIGGER IF EXISTS trg_analysis_decision_notify_update ON analysis_decision;
    IF cols IS NOT NULL THEN
        -- Not `UPDATE OF cols`: that would pin the columns' types (a production table may
        -- still change `decision` from text to jsonb); the function compares them instead.
        EXECUTE format('CREATE TRIGGER trg_analysis_decision_notify_update AFTER UPDATE '
                       'ON analysis_decision FOR EACH ROW EXECUTE FUNCTION '
                       'tm_notify_wakeup(%s)',
                       (SELECT string_agg(quote_literal(c), ', ') FROM unnest(cols) c));
    END IF;
END;
$$;

-- The kill switch's row only: the halts, cursors and installation id are the jobs' own.
DROP TRIGGER IF EXISTS trg_system_state_notify ON system_state;
CREATE TRIGGER trg_system_state_notify AFTER INSERT OR UPDATE OR DELETE ON system_state
    FOR EACH ROW EXECUTE FUNCTION tm_notify_wakeup();

-- An exit approval turning true (NocoDB's tick or `trading-monitor approve-exit`).
DROP TRIGGER IF EXISTS trg_position_tracking_notify ON position_tracking;
CREATE TRIGGER trg_position_tracking_notify AFTER UPDATE OF exit_approved ON position_tracking
    FOR EACH ROW WHEN (NEW.exit_approved IS TRUE AND OLD.exit_approved IS NOT TRUE)
    EXECUTE FUNCTION tm_notify_wakeup();

-- The leader's listener as its heartbeat says it: up, down (reconnecting), unsupported (it
-- does not hear its own NOTIFY: polling only), off (DECISION_NOTIFY=false); NULL on a
-- standby. `health` warns while the leader's is not up.
ALTER TABLE daemon_heartbeat ADD COLUMN IF NOT EXISTS notify_listener text;
