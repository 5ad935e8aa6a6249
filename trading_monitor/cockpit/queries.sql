-- The cockpit's reads and writes (trading_monitor/cockpit/). Messages are written from the
-- rows the books already hold: the event_log row that queued them, and its trade or decision.

-- name: due_messages
-- What the leader sends now, oldest first.
SELECT o.id, o.event_log_id, o.kind, o.attempts, o.body
FROM notify_outbox o
WHERE o.status = 'pending' AND o.next_attempt_at <= %(now)s
ORDER BY o.id
LIMIT %(limit)s;

-- name: message_event
SELECT id, created_at, run_id, entity, entity_id, event, from_status, to_status, message,
       detail
FROM event_log WHERE id = %(id)s;

-- name: message_decision
SELECT analysis_decision_id, ticker, primary_action, terminal_state, reason
FROM decision_outcome WHERE analysis_decision_id = %(id)s;

-- name: message_trade
-- A trade with its first stop (the one that protected the entry: trailing later replaces
-- the order and moves planned_stop_loss).
SELECT t.id, t.symbol, t.side, t.origin, t.status, t.actual_qty, t.actual_entry_price,
       t.planned_stop_loss, t.first_fill_at, t.protected_at, t.unprotected_seconds,
       t.exit_price, t.exit_reason_code, t.actual_pnl, t.fees, t.exit_estimated,
       first_stop.stop_price AS first_stop
FROM trade_journal t
LEFT JOIN LATERAL (
    SELECT o.stop_price FROM order_execution o
    WHERE o.trade_journal_id = t.id AND o.order_role = 'STOP_LOSS' AND o.stop_price IS NOT NULL
    ORDER BY o.id LIMIT 1
) first_stop ON true
WHERE t.id = %(id)s;

-- name: message_set_status
UPDATE notify_outbox SET status = %(status)s WHERE id = %(id)s AND status = 'pending';

-- name: message_attempted
-- One attempt's outcome: sent, pending again at %(next)s, or failed for good.
UPDATE notify_outbox SET body = %(body)s, attempts = %(attempt)s, status = %(status)s,
       next_attempt_at = %(next)s, last_error = %(error)s,
       sent_at = CASE WHEN %(status)s = 'sent' THEN %(now)s ELSE sent_at END
WHERE id = %(id)s;

-- name: message_delivery
INSERT INTO notify_delivery (outbox_id, attempt, status, error)
VALUES (%(id)s, %(attempt)s, %(status)s, %(error)s);

-- name: messages_failed
-- Per-event messages given up on (NOTIFY_MAX_ATTEMPTS failed) since %(since)s: the health
-- check `messages`, the cockpit page and /metrics.
SELECT count(*) AS n, max(last_error) AS error, max(updated_at) AS last_at
FROM notify_outbox WHERE status = 'failed' AND updated_at >= %(since)s;
