-- The order-status vocabulary (domain/order_status.py) in the views: v_open_positions shows
-- the stop that protects a position at the broker right now, the statuses `protects` names,
-- no longer any stop that may still fill (a stop on its way out, pending_cancel, or one not
-- eligible for trading, suspended, is not protection). v_trade_lifecycle's open_orders
-- already counts the orders that may fill (every status but FINAL). A view cannot take the
-- lists as parameters: tests/test_order_status.py pins each list to its predicate.

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
      -- protects (domain/order_status.py PROTECTS; pinned by tests/test_order_status.py)
      AND oe.order_status IN ('accepted', 'held', 'new', 'partially_filled', 'pending_new', 'pending_replace')
    ORDER BY oe.id DESC
    LIMIT 1
) stop ON true
ORDER BY p.symbol, p.trade_journal_id;
