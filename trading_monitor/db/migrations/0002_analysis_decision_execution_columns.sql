-- The four columns seed TASK-006 adds to analysis_decision; safe on a table that already has them.
ALTER TABLE analysis_decision ADD COLUMN IF NOT EXISTS existing_order_id text;
ALTER TABLE analysis_decision ADD COLUMN IF NOT EXISTS existing_trade_journal_id integer;
ALTER TABLE analysis_decision ADD COLUMN IF NOT EXISTS executed boolean NOT NULL DEFAULT false;
ALTER TABLE analysis_decision ADD COLUMN IF NOT EXISTS execution_time timestamptz;

-- Partial index: the executor only ever scans the unexecuted tail.
CREATE INDEX IF NOT EXISTS idx_analysis_decision_unexecuted
    ON analysis_decision (id) WHERE executed IS NOT TRUE;
CREATE INDEX IF NOT EXISTS idx_analysis_decision_executed ON analysis_decision (executed);
