-- The broker account is part of the books (issue 27): system_state 'broker_account_id' holds
-- the Alpaca account id (GET /v2/account `id`) the books were written against, recorded by
-- the first job that reads the account (trading_monitor/account_guard.py). Every trade and
-- snapshot row carries it too, through a column DEFAULT, so no writer has to pass it.
CREATE OR REPLACE FUNCTION tm_broker_account_id()
RETURNS text
LANGUAGE sql
STABLE
SECURITY INVOKER
AS $tm_broker_account_id$
    SELECT NULLIF(value, '') FROM system_state WHERE key = 'broker_account_id'
$tm_broker_account_id$;

-- Fix the search_path to the schema the function was made in (the migration's schema).
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION tm_broker_account_id() SET search_path = %I, pg_temp',
                   current_schema());
END;
$$;

-- Rows written before the account was known stay NULL until the first job records it
-- (it fills them in then, once).
ALTER TABLE trade_journal ADD COLUMN IF NOT EXISTS broker_account_id text;
ALTER TABLE trade_journal ALTER COLUMN broker_account_id SET DEFAULT tm_broker_account_id();
ALTER TABLE broker_snapshot ADD COLUMN IF NOT EXISTS broker_account_id text;
ALTER TABLE broker_snapshot ALTER COLUMN broker_account_id SET DEFAULT tm_broker_account_id();
