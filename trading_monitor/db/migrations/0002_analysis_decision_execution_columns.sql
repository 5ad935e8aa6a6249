-- The four columns seed TASK-006 adds to analysis_decision; safe on a table that already has them.
ALTER TABLE analysis_decision ADD COLUMN IF NOT EXISTS existing_order_id text;
ALTER TABLE analysis_decision ADD COLUMN IF NOT EXISTS existing_trade_journal_id integer;
ALTER TABLE analysis_decision ADD COLUMN IF NOT EXISTS executed boolean NOT NULL DEFAULT false;
ALTER TABLE analysis_decision ADD COLUMN IF NOT EXISTS execution_time timestamptz;

-- Partial index: the executor only ever scans the unexecuted tail.
CREATE INDEX IF NOT EXISTS idx_analysis_decision_unexecuted
    ON analysis_decision (id) WHERE executed IS NOT TRUE;
CREATE INDEX IF NOT EXISTS idx_analysis_decision_executed ON analysis_decision (executed);

-- Seed TASK-004's ticker index; guarded because a production table may name it differently.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_schema = current_schema() AND table_name = 'analysis_decision'
                 AND column_name = 'ticker') THEN
        CREATE INDEX IF NOT EXISTS idx_analysis_decision_ticker ON analysis_decision (ticker);
    END IF;
END;
$$;
