-- name: exits_working_orders
SELECT * FROM order_execution WHERE order_role = 'EXIT'
AND alpaca_order_id IS NOT NULL AND order_status <> ALL(%s) ORDER BY id

-- name: exits_working_logged
SELECT 1 AS x FROM event_log WHERE entity = 'order_execution' AND entity_id = %s
AND event = 'exit_working' LIMIT 1

-- name: halts_peak_upsert
INSERT INTO daily_equity (trading_day, start_equity, run_id, peak_equity, last_equity)
VALUES (%s, %s, %s, %s, %s) ON CONFLICT (trading_day) DO UPDATE SET
last_equity = EXCLUDED.last_equity,
peak_equity = GREATEST(daily_equity.peak_equity, EXCLUDED.peak_equity)

-- name: halts_peak
SELECT max(GREATEST(peak_equity, start_equity)) AS peak
FROM daily_equity

-- name: snapshots_start_equity
INSERT INTO daily_equity (trading_day, start_equity, run_id) VALUES (%s, %s, %s)
ON CONFLICT (trading_day) DO UPDATE SET start_equity = EXCLUDED.start_equity,
run_id = EXCLUDED.run_id

-- name: snapshots_taken
SELECT 1 AS found FROM broker_snapshot WHERE snapshot_type = %s AND trading_day = %s
LIMIT 1

-- name: symbol_halts_ensure
INSERT INTO system_state (key, value, reason) VALUES (%s, '{}', %s)
ON CONFLICT (key) DO NOTHING

-- name: symbol_halts_lock
SELECT value FROM system_state WHERE key = %s FOR UPDATE

-- name: corporate_actions_of_kinds
-- corporate_reads.py: stored actions of these kinds between two days.
SELECT * FROM corporate_action WHERE effective_date BETWEEN %s AND %s AND kind = ANY(%s) ORDER
BY effective_date, id

-- name: open_trade_symbols
-- corporate_reads.py: symbols of our pending and open trades.
SELECT DISTINCT symbol FROM trade_journal WHERE status IN ('PENDING', 'POSITION')

-- name: corporate_action_store_read
-- corporate_reads.py: an announcement read (status, entries), stored once.
INSERT INTO corporate_action (action_id, kind, symbol, new_symbol, old_rate, new_rate,
effective_date, source) VALUES (%s, %s, %s, %s, %s, %s, %s, 'announcement') ON CONFLICT
(action_id) DO NOTHING RETURNING id

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
-- protect.py: the trade's first and last fill, and the last fill of anything else that may
-- have changed its shares. Another trade of ours whose booked fills net to zero (opened and
-- closed) leaves the position as it found it, whenever its fills came: not counted.
WITH flat AS (
    SELECT trade_journal_id AS id FROM fills
    WHERE symbol = %(symbol)s AND trade_journal_id IS NOT NULL
      AND trade_journal_id <> %(id)s
    GROUP BY trade_journal_id
    HAVING sum(CASE side WHEN 'buy' THEN qty ELSE -qty END) = 0
)
SELECT max(f.filled_at) FILTER (WHERE f.trade_journal_id = %(id)s) AS ours,
       min(f.filled_at) FILTER (WHERE f.trade_journal_id = %(id)s) AS first,
       max(f.filled_at) FILTER (WHERE f.trade_journal_id IS DISTINCT FROM %(id)s
           AND NOT EXISTS (SELECT 1 FROM flat WHERE flat.id = f.trade_journal_id)) AS others
FROM fills f WHERE f.symbol = %(symbol)s

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

-- name: unexecuted_decision_tickers
-- announcements.py: symbols n8n decided on and not executed yet.
SELECT DISTINCT ticker FROM analysis_decision WHERE NOT executed AND ticker IS NOT NULL

-- name: corporate_action_applied_to
-- corporate_hold.py: whether an action was applied to a trade.
SELECT 1 FROM corporate_action_trade WHERE action_id = %s AND trade_journal_id = %s

-- name: close_held_since
-- corporate_hold.py: when a trade's close was first held back for a split (the jobs' clock).
SELECT min((detail->>'held_since')::timestamptz) AS since FROM event_log
WHERE entity = 'trade_journal' AND entity_id = %s AND event = 'close_held'

-- name: hand_fills_net_since
-- protect.py: the trader's own fills in a symbol since a moment, net (buys positive), and
-- per side what his orders that filled part still had to fill at their last fill we stored
-- (the rest may trade any second, or already has between our feed read and order read).
WITH theirs AS (
    SELECT side, qty, cum_qty, leaves_qty, alpaca_order_id FROM fills
    WHERE symbol = %(symbol)s AND trade_journal_id IS NULL AND filled_at >= %(since)s),
last_of_order AS (
    SELECT DISTINCT ON (alpaca_order_id) side, leaves_qty FROM theirs
    ORDER BY alpaca_order_id, cum_qty DESC)
SELECT (SELECT sum(CASE side WHEN 'buy' THEN qty ELSE -qty END) FROM theirs) AS net,
       (SELECT coalesce(sum(leaves_qty), 0) FROM last_of_order WHERE side = 'buy')
           AS working_buy,
       (SELECT coalesce(sum(leaves_qty), 0) FROM last_of_order WHERE side = 'sell')
           AS working_sell
