-- Borrow fees and dividends owed on a short (issue 21): Alpaca posts them as account
-- activities (a FEE described as a borrow fee; a DIV with a negative amount), booked onto the
-- short trades of the symbol by the days each was held (basis 'position_held'); what no short
-- of ours explains stays unallocated and is listed by the report (trading_monitor/fees.py).
ALTER TABLE fee_activity ADD COLUMN IF NOT EXISTS activity_type text NOT NULL DEFAULT 'FEE';
-- what the activity is to us: regulatory (by order / symbol and day), borrow, short_dividend,
-- or unidentified (a dividend-family debit we cannot tell is owed on a short)
ALTER TABLE fee_activity ADD COLUMN IF NOT EXISTS cost_kind text NOT NULL DEFAULT 'regulatory';
ALTER TABLE fee_allocation DROP CONSTRAINT IF EXISTS fee_allocation_basis_check;
ALTER TABLE fee_allocation ADD CONSTRAINT fee_allocation_basis_check CHECK (
    basis IN ('order', 'symbol_day', 'position_held', 'unallocated', 'reversal'));
