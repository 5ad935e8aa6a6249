-- The order monitor's own statements (read through db/queries.py Queries(__name__)).
-- Its lifecycle writes go through the ledger (trading_monitor/ledger/).

-- name: working_exit_qty
-- flatten.py: shares another exit of ours (another trade's) is already selling on the side.
SELECT coalesce(sum(qty - filled_qty), 0) AS qty FROM order_execution
WHERE symbol = %(symbol)s AND side = %(side)s AND order_role = 'EXIT'
  AND trade_journal_id <> %(trade)s AND order_status = ANY(%(live)s)

-- name: last_hand_cancel_mark
-- hand_cancel.py: the trade's last stop_cancelled_by_hand / hand_cancel_grace_over event.
SELECT event, detail FROM event_log
WHERE entity = 'trade_journal' AND entity_id = %(trade)s AND event IN (%(marked)s, %(over)s)
ORDER BY id DESC LIMIT 1

-- name: open_orders_on_symbol
-- protect.py: our orders on the symbol the broker may still fill (the wash-trade check).
SELECT * FROM order_execution WHERE symbol = %s AND alpaca_order_id IS NOT NULL
AND order_status = ANY(%s) ORDER BY id

-- name: last_fills_of_symbol
-- protect.py: the trade's first and last fill, and the last fill of anything else.
SELECT max(filled_at) FILTER (WHERE trade_journal_id = %(id)s) AS ours,
       min(filled_at) FILTER (WHERE trade_journal_id = %(id)s) AS first,
       max(filled_at) FILTER (WHERE trade_journal_id IS DISTINCT FROM %(id)s) AS others
FROM fills WHERE symbol = %(symbol)s

-- name: successor_row
-- sync.py: the row of a replacing order (by its id, or the row that replaces ours).
SELECT * FROM order_execution WHERE alpaca_order_id = %s OR
replaces_order_execution_id = %s ORDER BY id DESC LIMIT 1

-- name: first_submitted_at
-- sync.py: where the first read of the fill feed starts.
SELECT min(submitted_at) AS first FROM order_execution

-- name: recent_own_fill
-- untracked.py: a fill of an order of ours on the symbol after %(since)s.
SELECT 1 FROM order_execution
WHERE symbol = %(symbol)s AND filled_qty > 0
  AND (filled_at > %(since)s OR (filled_at IS NULL AND order_status = 'partially_filled'))
UNION ALL
SELECT 1 FROM fills
WHERE symbol = %(symbol)s AND order_execution_id IS NOT NULL AND filled_at > %(since)s
LIMIT 1

-- name: untracked_first_seen
-- untracked.py: when the open UNTRACKED issue of a symbol was first seen.
SELECT first_seen_at FROM reconciliation_issue WHERE issue_key = %s
AND resolved_at IS NULL

-- name: clear_gone_untracked
-- untracked.py: UNTRACKED issues of symbols no longer untracked are resolved.
UPDATE reconciliation_issue SET resolved_at = %s, resolution = 'cleared', run_id = %s
WHERE resolved_at IS NULL AND kind = 'UNTRACKED' AND NOT (symbol = ANY(%s))
