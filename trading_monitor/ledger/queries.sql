-- name: fee_position_held
-- Our short trades' opening fills, weighted by qty x days held short in the window.
WITH w AS (SELECT generate_series(%(day)s::date - %(window)s, %(day)s::date,
interval '1 day')::date AS d), f AS (SELECT f.id, f.qty, f.trade_journal_id,
(f.filled_at AT TIME ZONE 'America/New_York')::date AS opened, COALESCE((
SELECT max((c.filled_at AT TIME ZONE 'America/New_York')::date) FROM fills c
WHERE c.trade_journal_id = t.id AND c.side = 'buy' AND t.status = 'CLOSED'),
%(day)s::date + 1) AS closed FROM fills f JOIN trade_journal t
ON t.id = f.trade_journal_id WHERE t.side = 'sell' AND t.symbol = %(symbol)s
AND f.side = 'sell') SELECT f.id, f.qty * count(w.d) AS qty, f.trade_journal_id
FROM f JOIN w ON w.d >= f.opened AND w.d < f.closed
GROUP BY f.id, f.qty, f.trade_journal_id ORDER BY f.id

-- name: fee_held_allocations
SELECT fill_id, trade_journal_id, sum(amount) AS amount FROM fee_allocation
WHERE fee_activity_id = %s GROUP BY 1, 2 HAVING sum(amount) <> 0

-- name: fees_to_reallocate
SELECT a.* FROM fee_activity a WHERE a.effective AND a.amount <> COALESCE((
SELECT sum(x.amount) FROM fee_allocation x JOIN fills f ON f.id = x.fill_id
WHERE x.fee_activity_id = a.id), 0) ORDER BY a.activity_id

-- name: fee_true_up_trades
UPDATE trade_journal t SET run_id = %s, fees = s.fee, actual_pnl = CASE
WHEN t.status = 'CLOSED' AND t.actual_pnl IS NOT NULL
THEN t.actual_pnl - (s.fee - COALESCE(t.fees, 0)) ELSE t.actual_pnl END
FROM (SELECT trade_journal_id, sum(fee) AS fee FROM fills WHERE fee IS NOT NULL
AND trade_journal_id IS NOT NULL GROUP BY 1) s
WHERE s.trade_journal_id = t.id AND COALESCE(t.fees, 0) <> s.fee
RETURNING t.id, t.symbol, t.status, t.fees, t.actual_pnl

-- name: fee_predecessor_of_order
SELECT * FROM fee_activity WHERE effective AND activity_id <> %s
AND alpaca_order_id = %s AND sub_type IS NOT DISTINCT FROM %s
ORDER BY activity_id DESC

-- name: fee_predecessor_of_symbol_day
SELECT * FROM fee_activity WHERE effective AND activity_id <> %s
AND alpaca_order_id IS NULL AND symbol IS NOT DISTINCT FROM %s
AND activity_day IS NOT DISTINCT FROM %s
AND sub_type IS NOT DISTINCT FROM %s ORDER BY activity_id DESC

-- name: fee_refresh_fills
UPDATE fills f SET fee = (SELECT sum(a.amount) FROM fee_allocation a
WHERE a.fill_id = f.id), run_id = %s WHERE f.id = ANY(%s)

-- name: fee_fills_of_order
SELECT id, qty, trade_journal_id FROM fills WHERE alpaca_order_id = %s
AND trade_journal_id IS NOT NULL ORDER BY id

-- name: fee_fills_of_symbol_day
SELECT id, qty, trade_journal_id FROM fills WHERE symbol = %s
AND trade_journal_id IS NOT NULL
AND (filled_at AT TIME ZONE 'America/New_York')::date = %s ORDER BY id

-- name: fills_latest_order_row
SELECT * FROM order_execution WHERE alpaca_order_id = %s ORDER BY id DESC LIMIT 1

-- name: fills_assign_order
UPDATE fills SET order_execution_id = %s, trade_journal_id = %s, run_id = %s
WHERE alpaca_order_id = %s AND trade_journal_id IS NULL

-- name: fills_of_order
SELECT qty, price, cum_qty FROM fills WHERE alpaca_order_id = %s

-- name: fills_delete_order_fills
DELETE FROM fills WHERE alpaca_order_id = %s AND source = 'order' RETURNING id

-- name: fills_order_totals
SELECT sum(qty) AS qty, sum(qty * price) / sum(qty) AS avg, max(filled_at) AS at
FROM fills WHERE alpaca_order_id = %s

-- name: marks_trail_step
UPDATE position_tracking SET trail_step = %s, run_id = %s
WHERE trade_journal_id = %s

-- name: marks_target_reached
UPDATE position_tracking SET target_reached_at = %s,
run_id = %s WHERE trade_journal_id = %s AND
target_reached_at IS NULL

-- name: marks_approve_exit
UPDATE position_tracking SET exit_approved = true, run_id = %s
WHERE trade_journal_id = %s

-- name: marks_record
UPDATE position_tracking p SET run_id = %s, mark_stale = m.stale,
current_price = CASE WHEN m.stale THEN p.current_price ELSE m.price END,
last_price_at = CASE WHEN m.stale THEN p.last_price_at ELSE m.at END,
market_value = CASE WHEN m.stale THEN p.market_value ELSE m.value END,
unrealized_pnl = CASE WHEN m.stale THEN p.unrealized_pnl ELSE m.pnl END,
unrealized_r = CASE WHEN m.stale THEN p.unrealized_r ELSE m.r END,
high_water_mark = CASE WHEN m.stale THEN p.high_water_mark ELSE m.hwm END
FROM (VALUES {}) AS m (journal_id, stale, price, at, value, pnl, r, hwm)
WHERE p.trade_journal_id = m.journal_id

-- name: fills_assign_exit
-- The trader's own fills (of orders not ours) that closed a trade's shares by hand.
UPDATE fills SET trade_journal_id = %s, run_id = %s WHERE id = ANY(%s)

-- name: rename_trade_journal
-- A name change carries the trade's rows to the new symbol (new, run_id, trade, old).
UPDATE trade_journal SET symbol = %s, run_id = %s WHERE id = %s AND symbol = %s

-- name: rename_position_tracking
UPDATE position_tracking SET symbol = %s, run_id = %s WHERE trade_journal_id = %s AND symbol =
%s

-- name: rename_order_execution
UPDATE order_execution SET symbol = %s, run_id = %s WHERE trade_journal_id = %s AND symbol = %s

-- name: rename_fills
UPDATE fills SET symbol = %s, run_id = %s WHERE trade_journal_id = %s AND symbol = %s

-- name: corporate_action_store
-- An announcement stored once per action id.
INSERT INTO corporate_action (run_id, action_id, kind, symbol, new_symbol, old_rate, new_rate,
effective_date, source) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (action_id) DO
NOTHING RETURNING id

-- name: corporate_actions_between
SELECT * FROM corporate_action WHERE effective_date BETWEEN %s AND %s ORDER BY effective_date,
id

-- name: corporate_action_alerted
UPDATE corporate_action SET alerted_at = %s, run_id = %s WHERE action_id = %s

-- name: corporate_adjustments_to_reprice
SELECT * FROM corporate_action_trade WHERE repriced_at IS NULL ORDER BY id

-- name: corporate_action_trade_insert
-- An action applied to one trade, once.
INSERT INTO corporate_action_trade (run_id, action_id, trade_journal_id, ratio, qty_before,
qty_after, cash_in_lieu, symbol_before, symbol_after, applied_at, detail) VALUES (%s, %s, %s,
%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (action_id, trade_journal_id) DO NOTHING RETURNING
id

-- name: split_fills
-- The fills a split restates: the trade's from before it (splits.py computes the new values,
-- with the same arithmetic as every other quantity the split changes).
SELECT id, qty, price FROM fills WHERE trade_journal_id = %(trade)s AND filled_at < %(since)s
ORDER BY id

-- name: split_fill_restated
UPDATE fills SET qty = %(qty)s, price = %(price)s, run_id = %(run_id)s WHERE id = %(id)s

-- name: split_finished_orders
SELECT id, qty, filled_qty, filled_avg_price, limit_price, stop_price FROM order_execution
WHERE trade_journal_id = %(trade)s AND order_status = ANY(%(finished)s) AND filled_qty > 0
ORDER BY id

-- name: cash_in_lieu_fill
-- Cash in lieu of a fraction, booked as an exit fill.
INSERT INTO fills (run_id, alpaca_order_id, trade_journal_id, activity_id, symbol, side, qty,
cum_qty, price, filled_at, source) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'activity')
ON CONFLICT DO NOTHING RETURNING id

-- name: split_entry_fills_latest_first
SELECT f.id, f.qty, f.price, o.id AS order_id FROM fills f JOIN order_execution o ON
o.alpaca_order_id = f.alpaca_order_id AND o.trade_journal_id = f.trade_journal_id WHERE
f.trade_journal_id = %s AND o.order_role = 'ENTRY' ORDER BY f.filled_at DESC, f.id DESC

-- name: split_fraction_into_fill
-- A fraction bought from another of our trades, folded into the last entry fill.
UPDATE fills SET price = (qty * price + %s * %s) / (qty + %s), qty = qty + %s, run_id = %s WHERE
id = %s

-- name: split_fraction_into_order
UPDATE order_execution SET filled_avg_price = (filled_qty * filled_avg_price + %s * %s) /
(filled_qty + %s), filled_qty = filled_qty + %s, run_id = %s WHERE id = %s

-- name: split_fraction_position_avg
UPDATE position_tracking SET avg_entry_price = %s, run_id = %s WHERE trade_journal_id = %s

-- name: cash_in_lieu_reprice
-- An estimated cash-in-lieu fill re-priced by its CIL activity (corporate_cash.py).
UPDATE fills SET price = %s, activity_id = %s, run_id = %s WHERE id = %s

-- name: cash_in_lieu_correct_pnl
-- A closed trade's P&L corrected by the re-priced cash in lieu; closed by the cash in lieu
-- alone: its exit price too.
UPDATE trade_journal SET actual_pnl = actual_pnl + %s, run_id = %s,
exit_price = CASE WHEN exit_reason LIKE 'cash in lieu:%%' THEN %s
ELSE exit_price END, exit_estimated = CASE WHEN exit_reason LIKE
'cash in lieu:%%' THEN false ELSE exit_estimated END WHERE id = %s

-- name: alerts_sent_recently
SELECT 1 AS found FROM alert WHERE kind = %s AND delivery = 'sent'
AND created_at >= tm_now() - %s LIMIT 1

-- name: runs_finish
UPDATE job_run SET status = %s, finished_at = COALESCE(%s, now()), summary = %s,
error = %s, broker_requests = %s WHERE id = %s AND status = 'RUNNING'
