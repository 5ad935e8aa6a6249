-- The position monitor's own statements (read through db/queries.py Queries(__name__)).
-- Its lifecycle writes go through the ledger (trading_monitor/ledger/).

-- name: gone_issue_trades
-- accept.py: the trades of open GONE_AT_BROKER issues.
SELECT trade_journal_id FROM reconciliation_issue WHERE
kind = 'GONE_AT_BROKER' AND resolved_at IS NULL
AND trade_journal_id IS NOT NULL

-- name: resolve_accepted_gone
-- accept.py: the issues of the trades an operator accepted gone.
UPDATE reconciliation_issue SET resolved_at = %s, resolution =
'accepted_gone', run_id = %s WHERE trade_journal_id = ANY(%s)
AND resolved_at IS NULL

-- name: hand_fills_since
-- hand_closes.py: fills of orders not ours on the symbol since the trade's entry.
SELECT id, side, qty, price, filled_at FROM fills
WHERE symbol = %(symbol)s AND trade_journal_id IS NULL AND order_execution_id IS NULL
  AND alpaca_order_id NOT IN (SELECT alpaca_order_id FROM order_execution
                              WHERE alpaca_order_id IS NOT NULL)
  AND filled_at >= %(since)s
ORDER BY filled_at, id

-- name: fill_qtys
-- hand_closes.py
SELECT qty FROM fills WHERE id = ANY(%s)

-- name: open_trade_stops
-- incident.py: which of these broker orders are stops of ours of an open trade.
SELECT o.alpaca_order_id FROM order_execution o JOIN trade_journal j
ON j.id = o.trade_journal_id WHERE o.order_role = 'STOP_LOSS'
AND j.status = 'POSITION' AND o.alpaca_order_id = ANY(%s)

-- name: sent_orders_of_trade
-- incident.py: every order of the trade that went to the broker.
SELECT alpaca_order_id FROM order_execution WHERE trade_journal_id = %s
AND alpaca_order_id IS NOT NULL ORDER BY id

-- name: issue_first_seen
-- reconcile.py: when an open reconciliation issue was first seen.
SELECT first_seen_at FROM reconciliation_issue WHERE issue_key = %s
AND resolved_at IS NULL

-- name: resolve_cleared_issues
-- reconcile.py: open issues not found this cycle are resolved.
UPDATE reconciliation_issue SET resolved_at = %s, resolution = 'cleared', run_id = %s
WHERE resolved_at IS NULL AND NOT (issue_key = ANY(%s))

-- name: resting_stop_seen
-- resting_stops.py: whether this stop was already alerted as resting.
SELECT 1 AS x FROM event_log WHERE entity = 'order_execution' AND entity_id = %s
AND event = 'resting_stop' LIMIT 1
