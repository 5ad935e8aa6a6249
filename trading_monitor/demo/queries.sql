-- name: backdate_decision
UPDATE analysis_decision SET created_at = %s WHERE id = %s

-- name: trade_of_decision
SELECT id FROM trade_journal WHERE initial_analysis_id = %s ORDER BY id DESC
LIMIT 1

-- name: outcomes
SELECT d.id, d.ticker, d.primary_action, o.terminal_state, o.reason,
       t.id AS trade_id, t.status AS trade_status, t.exit_reason_code, t.actual_pnl
FROM analysis_decision d
LEFT JOIN decision_outcome o ON o.analysis_decision_id = d.id
LEFT JOIN LATERAL (SELECT * FROM trade_journal j WHERE j.initial_analysis_id = d.id
                   ORDER BY j.id DESC LIMIT 1) t ON true
ORDER BY d.id

-- name: trades
SELECT id, initial_analysis_id, symbol, side, trade_style, status, exit_reason_code,
actual_qty, actual_pnl FROM trade_journal ORDER BY id

-- name: fills
SELECT trade_journal_id, symbol, side, qty, price, filled_at FROM fills
ORDER BY filled_at, id

-- name: job_runs
SELECT job_name, started_at FROM job_run ORDER BY started_at, id

-- name: data_directory
SHOW data_directory
