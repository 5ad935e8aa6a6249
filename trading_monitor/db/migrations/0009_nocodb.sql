-- NocoDB: the views a trader opens first, row-level security on system_state, and (on the
-- development path only) a trigger that keeps analysis_decision.updated_at current.
-- The NocoDB role itself is made by `trading-monitor nocodb-role` (see docs/nocodb.md):
-- roles belong to the whole cluster, and a DBA chooses their name and password.

-- The views never read analysis_decision: production's table is NocoDB's and n8n's, its
-- columns vary, and a view on a column would stop them altering or dropping it. The decision
-- part of a trade comes from decision_outcome, which copies the action and ticker.
-- They are read-only for NocoDB: the role gets SELECT on them and nothing else (a simple view
-- would otherwise be updatable, and NocoDB updates a table without a primary key with no
-- WHERE). None of them is a simple view anyway: each joins or aggregates.

-- One row per trade: decision -> journal -> orders -> fills -> P&L.
CREATE OR REPLACE VIEW v_trade_lifecycle AS
SELECT
    tj.id AS trade_journal_id,
    tj.initial_analysis_id AS analysis_decision_id,
    dout.primary_action AS decision_action,
    dout.terminal_state AS decision_outcome,
    dout.reason AS decision_reason,
    dout.created_at AS decided_at,
    tj.symbol,
    tj.side,
    tj.trade_style,
    tj.protection_mode,
    tj.origin,
    tj.status,
    tj.planned_qty,
    tj.planned_entry_price,
    tj.planned_stop_loss,
    tj.planned_take_profit,
    tj.time_in_force,
    entry.client_order_id AS entry_client_order_id,
    entry.alpaca_order_id AS entry_alpaca_order_id,
    entry.order_status AS entry_order_status,
    COALESCE(o.orders, 0) AS orders,
    COALESCE(o.open_orders, 0) AS open_orders,
    COALESCE(f.fills, 0) AS fills,
    COALESCE(f.entry_filled_qty, 0) AS entry_filled_qty,
    COALESCE(f.exit_filled_qty, 0) AS exit_filled_qty,
    tj.actual_qty,
    tj.actual_entry_price,
    tj.entry_date,
    tj.protected_at,
    tj.unprotected_seconds,
    f.last_fill_at,
    p.qty AS position_qty,
    p.current_price,
    p.unrealized_pnl,
    tj.exit_date,
    tj.exit_price,
    tj.exit_reason_code,
    tj.exit_reason,
    tj.fees,
    tj.actual_pnl AS realized_pnl,  -- net of fees
    tj.days_open,
    tj.replaces_trade_journal_id,
    tj.replaced_by_trade_journal_id,
    tj.created_at,
    tj.updated_at
FROM trade_journal tj
LEFT JOIN decision_outcome dout ON dout.analysis_decision_id = tj.initial_analysis_id
LEFT JOIN position_tracking p ON p.trade_journal_id = tj.id
LEFT JOIN LATERAL (
    SELECT oe.client_order_id, oe.alpaca_order_id, oe.order_status
    FROM order_execution oe
    WHERE oe.trade_journal_id = tj.id AND oe.order_role = 'ENTRY'
    ORDER BY oe.id DESC
    LIMIT 1
) entry ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS orders,
           count(*) FILTER (WHERE oe.order_status NOT IN (
               'filled', 'canceled', 'expired', 'rejected', 'replaced', 'not_sent')) AS open_orders
    FROM order_execution oe
    WHERE oe.trade_journal_id = tj.id
) o ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS fills,
           sum(fl.qty) FILTER (WHERE fl.side = tj.side) AS entry_filled_qty,
           sum(fl.qty) FILTER (WHERE fl.side <> tj.side) AS exit_filled_qty,
           max(fl.filled_at) AS last_fill_at
    FROM fills fl
    WHERE fl.trade_journal_id = tj.id
) f ON true
ORDER BY tj.id DESC;

-- Every position we hold, with the stop that protects it at the broker right now.
CREATE OR REPLACE VIEW v_open_positions AS
SELECT
    p.trade_journal_id,
    p.symbol,
    p.side,
    p.qty,
    p.avg_entry_price,
    p.current_price,
    p.market_value,
    p.unrealized_pnl,
    p.unrealized_r,
    p.mark_stale,
    p.last_price_at,
    tj.planned_stop_loss,
    stop.stop_price AS live_stop_price,
    stop.order_status AS stop_order_status,
    tj.planned_take_profit,
    p.high_water_mark,
    p.trail_step,
    p.target_reached_at,
    p.exit_approved,
    tj.status AS trade_status,
    tj.trade_style,
    tj.origin,
    tj.initial_analysis_id AS analysis_decision_id,
    tj.entry_date,
    tj.days_open,
    p.updated_at
FROM position_tracking p
LEFT JOIN trade_journal tj ON tj.id = p.trade_journal_id
LEFT JOIN LATERAL (
    SELECT oe.stop_price, oe.order_status
    FROM order_execution oe
    WHERE oe.trade_journal_id = p.trade_journal_id AND oe.order_role = 'STOP_LOSS'
      AND oe.order_status NOT IN ('filled', 'canceled', 'expired', 'rejected', 'replaced',
                                  'not_sent')
    ORDER BY oe.id DESC
    LIMIT 1
) stop ON true
ORDER BY p.symbol, p.trade_journal_id;

-- One row per New York trading day: trades closed that day and the equity marks.
CREATE OR REPLACE VIEW v_daily_pnl AS
WITH closed AS (
    SELECT (exit_date AT TIME ZONE 'America/New_York')::date AS trading_day,
           count(*) AS trades_closed,
           count(*) FILTER (WHERE actual_pnl > 0) AS winning_trades,
           count(*) FILTER (WHERE actual_pnl < 0) AS losing_trades,
           sum(fees) AS fees,
           sum(actual_pnl) AS realized_pnl
    FROM trade_journal
    WHERE status = 'CLOSED' AND exit_date IS NOT NULL
    GROUP BY 1
)
SELECT
    COALESCE(c.trading_day, e.trading_day) AS trading_day,
    COALESCE(c.trades_closed, 0) AS trades_closed,
    COALESCE(c.winning_trades, 0) AS winning_trades,
    COALESCE(c.losing_trades, 0) AS losing_trades,
    COALESCE(c.fees, 0) AS fees,
    COALESCE(c.realized_pnl, 0) AS realized_pnl,  -- net of fees
    e.start_equity,
    e.last_equity,
    e.peak_equity,
    e.last_equity - e.start_equity AS equity_change
FROM closed c
FULL JOIN daily_equity e ON e.trading_day = c.trading_day
ORDER BY 1 DESC;

-- system_state: row-level security, so the NocoDB role can be limited to the operator's rows
-- (the kill switch) while installation_id, fill_cursor and the halts stay the jobs' own.
-- This permissive policy keeps every row visible and writable for every role that has the
-- table privileges, as before; `trading-monitor nocodb-role` adds RESTRICTIVE policies for
-- its one role. Not FORCE: the table's owner (the jobs, the migrations) bypasses RLS.
ALTER TABLE system_state ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tm_every_row ON system_state;
CREATE POLICY tm_every_row ON system_state USING (true) WITH CHECK (true);

-- analysis_decision.updated_at kept by the database, as on our own tables, so a decision
-- edited in NocoDB after its intent was written can be seen. Only where this schema created
-- analysis_decision (0001 is a .dev file, recorded only on the development path); in
-- production the table is NocoDB's and scripts/create_production_tables.py adds the trigger
-- only with --with-updated-at-trigger.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM schema_migrations WHERE version = '0001') THEN
        ALTER TABLE analysis_decision
            ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();
        DROP TRIGGER IF EXISTS trg_analysis_decision_updated_at ON analysis_decision;
        CREATE TRIGGER trg_analysis_decision_updated_at BEFORE UPDATE ON analysis_decision
            FOR EACH ROW EXECUTE FUNCTION tm_set_updated_at();
    END IF;
END;
$$;
