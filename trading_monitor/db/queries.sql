-- name: foreign_keys
-- Integrity lives in code (NocoDB); this must always return no rows.
SELECT conrelid::regclass::text AS table_name, conname
FROM pg_constraint
WHERE contype = 'f' AND connamespace = 'public'::regnamespace;
