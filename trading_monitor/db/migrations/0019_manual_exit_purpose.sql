-- A trader's own close through us (`trading-monitor flatten`, the cockpit's button, issue 28)
-- is an exit of purpose MANUAL, and the trade it closes is booked exit_reason_code MANUAL (a
-- reason 0006 already lists), not TARGET_HIT as approve-exit's. Only the CHECK widens: no
-- column, view or NocoDB field changes, every existing row stays valid.
ALTER TABLE order_execution DROP CONSTRAINT IF EXISTS order_execution_purpose_check;
ALTER TABLE order_execution ADD CONSTRAINT order_execution_purpose_check CHECK (
    purpose IN ('ENTRY', 'PROTECTION', 'EOD_FLATTEN', 'EMERGENCY', 'KILL_SWITCH', 'TARGET_HIT',
                'MANUAL'));
