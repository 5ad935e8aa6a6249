-- EXPIRED trades (an entry whose time in force ran out unfilled), where protection came
-- from (a refused bracket falls back to staged protection) and when an entry that the
-- broker holds as GTC must be withdrawn because the trader asked for a DAY entry.
ALTER TABLE trade_journal DROP CONSTRAINT IF EXISTS trade_journal_status_check;
ALTER TABLE trade_journal ADD CONSTRAINT trade_journal_status_check
    CHECK (status IN ('PENDING', 'POSITION', 'CLOSED', 'CANCELLED', 'EXPIRED', 'REJECTED'));
ALTER TABLE trade_journal ADD COLUMN IF NOT EXISTS protection_note text;
ALTER TABLE trade_journal ADD COLUMN IF NOT EXISTS protection_time_in_force text;

ALTER TABLE order_execution ADD COLUMN IF NOT EXISTS entry_expires_at timestamptz;
CREATE INDEX IF NOT EXISTS idx_order_execution_entry_expires_at
    ON order_execution (entry_expires_at) WHERE entry_expires_at IS NOT NULL;
