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

-- name: open_position_qtys
-- corporate_missed.py: our open position rows, per symbol (issue 27: this account's).
SELECT j.symbol, p.qty FROM trade_journal j JOIN position_tracking p ON p.trade_journal_id =
j.id WHERE j.status = 'POSITION' AND COALESCE(j.broker_account_id = tm_broker_account_id(),
true)

-- name: ending_actions_for_symbol
-- corporate_ending.py: actions ending a symbol around today.
SELECT action_id, kind, effective_date FROM corporate_action WHERE symbol = %s AND kind =
ANY(%s) AND effective_date BETWEEN %s AND %s ORDER BY effective_date DESC

-- name: splits_due_in_symbols
-- corporate_cashout.py: stored splits due in these symbols.
SELECT symbol, new_symbol, old_rate, new_rate, effective_date FROM corporate_action WHERE kind =
ANY(%s) AND effective_date BETWEEN %s AND %s AND (symbol = ANY(%s) OR new_symbol = ANY(%s))

-- name: open_qty_entered_before
-- corporate_cashout.py: our open shares in a symbol entered before a moment.
SELECT COALESCE(sum(abs(p.qty)), 0) AS qty FROM trade_journal j JOIN position_tracking p ON
p.trade_journal_id = j.id WHERE j.symbol = %s AND j.status = 'POSITION' AND j.entry_date < %s

-- name: cashed_out_adjustments
-- corporate_cashout.py: the touched trades a split left with no share.
SELECT t.trade_journal_id, a.action_id, a.kind, a.symbol, a.new_symbol, a.old_rate, a.new_rate,
a.effective_date FROM corporate_action_trade t JOIN corporate_action a ON a.action_id =
t.action_id WHERE t.trade_journal_id = ANY(%s) AND t.qty_after = 0 ORDER BY t.id

-- name: cash_in_lieu_fill_estimated
-- corporate_cashout.py: whether the trade's cash in lieu is priced at the mark.
SELECT 1 FROM fills WHERE trade_journal_id = %s AND alpaca_order_id = %s AND activity_id IS NULL

-- name: cash_in_lieu_estimated
-- corporate_cash.py: cash-in-lieu fills priced at the mark, no CIL activity yet.
SELECT f.id, f.trade_journal_id, f.symbol, f.qty, f.price, f.filled_at, j.side, j.status FROM
fills f JOIN trade_journal j ON j.id = f.trade_journal_id WHERE f.alpaca_order_id LIKE 'cil:%%'
AND f.activity_id IS NULL AND f.filled_at > %s ORDER BY f.id

-- name: corporate_trades_applied
-- corporate_apply.py: the trades an action was already applied to.
SELECT trade_journal_id FROM corporate_action_trade WHERE action_id = %s
