-- The daily report's reads (trading_monitor/report/data.py). Read-only, no broker.
-- Days are New York days: %(start)s and %(end)s are its midnights as aware timestamps.
-- Rows written by the jobs carry the job clock (entry_date, exit_date, job_run.started_at);
-- rows stamped by the database's now() (decision_outcome, alert) take their job run's
-- start time through run_id, so a simulated day (the demo) reports what happened in it.

-- name: trades_active
-- Trades that held shares at some time in [window_start, end): opened before the end and
-- not closed before the window. The first stop is the earliest stop order of the trade (a
-- trailing stop later moves planned_stop_loss and replaces the order). A live stop is one that
-- protects (the `protects` list of domain/order_status.py SQL_PARAMS, as `status` asks).
SELECT t.id, t.symbol, t.side, t.status, t.trade_style, t.origin, t.initial_analysis_id,
       t.actual_qty, t.planned_qty, t.planned_entry_price, t.actual_entry_price,
       t.planned_stop_loss, t.planned_take_profit, t.entry_date, t.exit_date, t.exit_price,
       t.requested_exit_price, t.exit_reason_code, t.exit_reason, t.actual_pnl, t.fees,
       t.entry_slippage_bps, t.exit_slippage_bps, t.exit_estimated,
       first_stop.stop_price AS first_stop,
       live_stop.stop_price AS live_stop, live_stop.order_status AS live_stop_status,
       p.qty AS position_qty, p.current_price, p.unrealized_pnl, p.last_price_at,
       p.mark_stale, p.target_reached_at, p.exit_approved
FROM trade_journal t
LEFT JOIN position_tracking p ON p.trade_journal_id = t.id
LEFT JOIN LATERAL (
    SELECT o.stop_price FROM order_execution o
    WHERE o.trade_journal_id = t.id AND o.order_role = 'STOP_LOSS' AND o.stop_price IS NOT NULL
    ORDER BY o.id LIMIT 1
) first_stop ON true
LEFT JOIN LATERAL (
    SELECT o.stop_price, o.order_status FROM order_execution o
    WHERE o.trade_journal_id = t.id AND o.order_role = 'STOP_LOSS'
      AND o.order_status = ANY(%(protects)s)
    ORDER BY o.id DESC LIMIT 1
) live_stop ON true
WHERE t.status IN ('POSITION', 'CLOSED') AND t.entry_date IS NOT NULL
  AND t.entry_date < %(end)s
  AND (t.exit_date IS NULL OR t.exit_date >= %(window_start)s)
ORDER BY t.id;

-- name: decision_outcomes
-- Every decision settled on the day, with when (its executor run's job clock).
SELECT o.analysis_decision_id, o.ticker, o.primary_action, o.terminal_state, o.reason,
       o.trade_journal_id, o.run_id, COALESCE(j.started_at, o.created_at) AS decided_at
FROM decision_outcome o
LEFT JOIN job_run j ON j.run_id = o.run_id
WHERE COALESCE(j.started_at, o.created_at) >= %(start)s
  AND COALESCE(j.started_at, o.created_at) < %(end)s
ORDER BY o.analysis_decision_id;

-- name: alerts
-- Every alert raised on the day (sent, suppressed, not configured or failed).
SELECT a.id, a.kind, a.message, a.delivery, a.run_id,
       COALESCE(j.started_at, a.created_at) AS raised_at
FROM alert a
LEFT JOIN job_run j ON j.run_id = a.run_id
WHERE COALESCE(j.started_at, a.created_at) >= %(start)s
  AND COALESCE(j.started_at, a.created_at) < %(end)s
ORDER BY raised_at, a.id;

-- name: job_health
-- Per job: its runs on the day by status, and its last run.
SELECT DISTINCT ON (job_name) job_name,
       count(*) OVER w AS runs,
       count(*) FILTER (WHERE status = 'SUCCEEDED') OVER w AS succeeded,
       count(*) FILTER (WHERE status = 'PARTIAL') OVER w AS partial,
       count(*) FILTER (WHERE status = 'FAILED') OVER w AS failed,
       count(*) FILTER (WHERE status IN ('MISSED', 'SKIPPED')) OVER w AS missed_or_skipped,
       count(*) FILTER (WHERE status = 'RUNNING') OVER w AS running,
       status AS last_status, started_at AS last_started_at, finished_at AS last_finished_at,
       error AS last_error
FROM job_run
WHERE started_at >= %(start)s AND started_at < %(end)s
WINDOW w AS (PARTITION BY job_name)
ORDER BY job_name, started_at DESC, id DESC;

-- name: failed_runs
-- The day's failed, missed and skipped runs with their error, newest first.
SELECT job_name, run_id, status, started_at, error
FROM job_run
WHERE started_at >= %(start)s AND started_at < %(end)s
  AND status IN ('FAILED', 'MISSED', 'SKIPPED')
ORDER BY started_at DESC, id DESC
LIMIT 50;

-- name: daily_history
-- The equity marks and realised P&L of each day in the chart's window (v_daily_pnl).
SELECT trading_day, trades_closed, realized_pnl, fees, start_equity, last_equity
FROM v_daily_pnl
WHERE trading_day >= %(first_day)s AND trading_day <= %(day)s
ORDER BY trading_day;

-- name: unallocated_fees
-- FEE activities of the day charged to no trade of ours (trading_monitor/ledger/fees.py):
-- net of their reversals, so a fee allocated since, or cancelled, is gone.
-- Also the borrow fees and dividend debits no short of ours explains (migration 0017).
SELECT a.activity_id, a.symbol, a.alpaca_order_id, a.sub_type, a.description,
       a.activity_type, a.cost_kind, sum(x.amount) AS amount
FROM fee_allocation x
JOIN fee_activity a ON a.id = x.fee_activity_id
WHERE x.trade_journal_id IS NULL AND a.activity_day = %(day)s
GROUP BY a.activity_id, a.symbol, a.alpaca_order_id, a.sub_type, a.description,
         a.activity_type, a.cost_kind
HAVING sum(x.amount) <> 0
ORDER BY a.activity_id;

-- name: report_delivered
-- Whether an earlier daily_report run already delivered this day's report (a restart, or
-- the demo's fast schedule, must not send it twice).
SELECT 1 AS found FROM job_run
WHERE job_name = 'daily_report' AND summary ->> 'day' = %(day)s
  AND summary ->> 'delivery' = 'sent'
LIMIT 1;

-- name: period_trades
-- `trading-monitor report --period/--from/--to` (report/period.py): every trade that
-- entered or closed in [%(start)s, %(end)s), with its first stop (for R) and the window
-- between its first fill and the stop the broker accepted.
SELECT t.id, t.symbol, t.side, t.status, t.actual_qty, t.planned_entry_price,
       t.actual_entry_price, t.planned_stop_loss, t.entry_date, t.exit_date, t.exit_price,
       t.requested_exit_price, t.exit_reason_code, t.actual_pnl, t.fees,
       t.entry_slippage_bps, t.exit_slippage_bps, t.first_fill_at, t.protected_at,
       t.unprotected_seconds, first_stop.stop_price AS first_stop
FROM trade_journal t
LEFT JOIN LATERAL (
    SELECT o.stop_price FROM order_execution o
    WHERE o.trade_journal_id = t.id AND o.order_role = 'STOP_LOSS' AND o.stop_price IS NOT NULL
    ORDER BY o.id LIMIT 1
) first_stop ON true
WHERE t.status IN ('POSITION', 'CLOSED') AND t.entry_date IS NOT NULL
  AND ((t.entry_date >= %(start)s AND t.entry_date < %(end)s)
       OR (t.exit_date >= %(start)s AND t.exit_date < %(end)s))
ORDER BY t.id;
