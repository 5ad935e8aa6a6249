-- name: positions
SELECT t.id, t.symbol, t.side, t.planned_take_profit, t.unprotected_seconds, t.protected_at,
       t.first_fill_at, COALESCE(t.actual_entry_price, t.planned_entry_price) AS entry_price,
       p.qty, p.avg_entry_price, p.current_price, p.unrealized_pnl, p.trail_step,
       p.last_price_at, COALESCE(p.mark_stale, false) AS mark_stale,
       (SELECT o.stop_price FROM order_execution o WHERE o.trade_journal_id = t.id
          AND o.order_role = 'STOP_LOSS' AND o.order_status = ANY(%(protects)s)
        ORDER BY o.id DESC LIMIT 1) AS stop_price,
       (SELECT COALESCE(sum(o.qty - o.filled_qty), 0) FROM order_execution o
         WHERE o.trade_journal_id = t.id AND o.order_role = 'STOP_LOSS'
           AND o.order_status = ANY(%(protects)s)) AS stop_qty,
       (SELECT array_agg(o.alpaca_order_id) FROM order_execution o
         WHERE o.trade_journal_id = t.id AND o.order_role = 'STOP_LOSS'
           AND o.order_status = ANY(%(protects)s) AND o.alpaca_order_id IS NOT NULL)
         AS stop_ids,
       (SELECT o.limit_price FROM order_execution o WHERE o.trade_journal_id = t.id
          AND o.order_role = 'TAKE_PROFIT' AND o.order_status = ANY(%(live)s)
        ORDER BY o.id DESC LIMIT 1) AS target_price,
       (SELECT min(COALESCE(o.submitted_at, o.created_at)) FROM order_execution o
         WHERE o.trade_journal_id = t.id AND o.order_role = 'EXIT'
           AND (o.order_status = ANY(%(live)s) OR o.order_status = 'pending_submit'))
         AS exit_since,
       (SELECT o.purpose FROM order_execution o WHERE o.trade_journal_id = t.id
          AND o.order_role = 'EXIT' AND o.order_status = ANY(%(live)s)
        ORDER BY o.id DESC LIMIT 1) AS exit_purpose
FROM trade_journal t
JOIN position_tracking p ON p.trade_journal_id = t.id
WHERE t.status = 'POSITION' AND p.qty <> 0
ORDER BY t.id

-- name: pending_entries
SELECT t.id, t.symbol, t.side, t.planned_qty, t.planned_entry_price, t.planned_stop_loss
FROM trade_journal t WHERE t.status = 'PENDING' ORDER BY t.id

-- name: decisions_today
SELECT o.analysis_decision_id, o.primary_action, o.ticker, o.terminal_state, o.reason,
       o.trade_journal_id, o.created_at
FROM decision_outcome o
WHERE o.created_at >= %(start)s AND o.created_at < %(end)s
ORDER BY o.id DESC LIMIT 50

-- name: equity_today
SELECT created_at, equity FROM (
    SELECT created_at, equity FROM broker_snapshot
    WHERE equity IS NOT NULL AND created_at >= %(start)s AND created_at < %(end)s
    UNION ALL  -- each position-monitor run's read of the account (job_run.summary)
    SELECT finished_at, (summary->>'equity')::numeric FROM job_run
    WHERE job_name = 'position_monitor' AND status IN ('SUCCEEDED', 'PARTIAL')
      AND summary->>'equity' IS NOT NULL
      AND finished_at >= %(start)s AND finished_at < %(end)s
) points ORDER BY created_at LIMIT 2000

-- name: equity_days
SELECT trading_day, start_equity, last_equity FROM daily_equity
ORDER BY trading_day DESC LIMIT 30

-- name: last_alerts
SELECT created_at, kind, message, delivery FROM alert ORDER BY id DESC LIMIT 10

-- name: reconciliation
SELECT kind, symbol, trade_journal_id, first_seen_at FROM reconciliation_issue
WHERE resolved_at IS NULL ORDER BY id LIMIT 20

-- name: last_success
SELECT job_name, extract(epoch FROM max(finished_at)) AS at,
       extract(epoch FROM now() - max(finished_at)) AS age
FROM job_run WHERE status = 'SUCCEEDED' AND finished_at IS NOT NULL GROUP BY job_name

-- name: outcomes
SELECT terminal_state, count(*) AS n FROM decision_outcome GROUP BY terminal_state

-- name: fill_to_stop
SELECT unprotected_seconds AS s FROM trade_journal WHERE unprotected_seconds IS NOT NULL

-- name: decision_to_order
SELECT extract(epoch FROM o.submitted_at - d.created_at) AS s
FROM order_execution o JOIN analysis_decision d ON d.id = o.analysis_decision_id
WHERE o.order_role = 'ENTRY' AND o.submitted_at IS NOT NULL AND o.submitted_at >= d.created_at

-- name: equity
SELECT equity FROM (
    (SELECT created_at AS at, equity FROM broker_snapshot WHERE equity IS NOT NULL
     ORDER BY id DESC LIMIT 1)
    UNION ALL  -- the position monitor reads the account every run (job_run.summary)
    (SELECT finished_at, (summary->>'equity')::numeric FROM job_run
     WHERE job_name = 'position_monitor' AND status IN ('SUCCEEDED', 'PARTIAL')
       AND summary->>'equity' IS NOT NULL AND finished_at IS NOT NULL
     ORDER BY id DESC LIMIT 1)
) latest ORDER BY at DESC LIMIT 1

-- name: leader_beat
SELECT extract(epoch FROM now() - max(beat_at)) AS age FROM daemon_heartbeat WHERE role = 'leader'
