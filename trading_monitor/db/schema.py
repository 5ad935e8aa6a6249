"""The tables and columns we know; names outside this registry never reach SQL.

A test checks this registry against the migrated database, so the two cannot drift.
"""

from __future__ import annotations

from trading_monitor.exceptions import UnknownSchemaError

_AUDIT = ("id", "created_at", "updated_at")

TABLES: dict[str, frozenset[str]] = {
    "analysis_decision": frozenset(_AUDIT + (
        "analysis_date", "ticker", "primary_action", "confidence", "reasoning", "decision",
        "existing_order_id", "existing_trade_journal_id", "executed", "execution_time",
    )),
    "trade_journal": frozenset(_AUDIT + (
        "run_id", "initial_analysis_id", "symbol", "side", "trade_style", "protection_mode",
        "status", "planned_entry_price", "planned_stop_loss", "planned_take_profit",
        "planned_qty", "time_in_force", "actual_entry_price", "actual_qty", "entry_date",
        "exit_date", "exit_price", "exit_reason", "actual_pnl", "days_open",
        "replaces_trade_journal_id", "replaced_by_trade_journal_id", "notes",
        "protection_note", "protection_time_in_force", "exit_reason_code", "exit_estimated",
        "fees", "entry_slippage_bps", "requested_exit_price", "exit_slippage_bps",
        "first_fill_at", "protected_at", "unprotected_seconds", "emergency_action", "origin",
        "broker_account_id",
    )),
    "order_execution": frozenset(_AUDIT + (
        "run_id", "trade_journal_id", "analysis_decision_id", "client_order_id",
        "alpaca_order_id", "parent_order_execution_id", "order_role", "symbol", "side",
        "order_type", "order_class", "time_in_force", "qty", "limit_price", "stop_price",
        "order_status", "submitted_at", "filled_qty", "filled_avg_price", "filled_at",
        "broker_message", "replaces_order_execution_id", "replaced_by_order_execution_id",
        "entry_expires_at", "broker_updated_at", "canceled_at", "expired_at", "expires_at",
        "purpose",
    )),
    "fills": frozenset(_AUDIT + (
        "run_id", "alpaca_order_id", "order_execution_id", "trade_journal_id", "activity_id",
        "execution_id", "symbol", "side", "qty", "cum_qty", "price", "fee", "filled_at",
        "source", "leaves_qty",
    )),
    "position_tracking": frozenset(_AUDIT + (
        "run_id", "trade_journal_id", "symbol", "side", "qty", "avg_entry_price",
        "current_price", "market_value", "unrealized_pnl", "stop_loss_order_id",
        "take_profit_order_id", "last_price_at", "unrealized_r", "high_water_mark",
        "mark_stale", "trail_step", "target_reached_at", "exit_approved",
    )),
    "reconciliation_issue": frozenset(_AUDIT + (
        "run_id", "issue_key", "kind", "symbol", "trade_journal_id", "detail", "first_seen_at",
        "resolved_at", "resolution",
    )),
    "job_run": frozenset(_AUDIT + (
        "run_id", "job_name", "mode", "status", "started_at", "finished_at", "host", "pid",
        "broker_requests", "summary", "error",
    )),
    "decision_outcome": frozenset(_AUDIT + (
        "run_id", "analysis_decision_id", "primary_action", "ticker", "terminal_state",
        "reason", "trade_journal_id", "client_order_id",
    )),
    "broker_snapshot": frozenset(_AUDIT + (
        "run_id", "snapshot_type", "cash", "equity", "buying_power", "positions",
        "open_orders", "reconciliation_status", "discrepancies", "trading_day",
        "broker_account_id",
    )),
    "event_log": frozenset(_AUDIT + (
        "run_id", "entity", "entity_id", "event", "from_status", "to_status", "message", "detail",
    )),
    "daily_equity": frozenset(_AUDIT + ("trading_day", "start_equity", "run_id", "peak_equity",
                                        "last_equity")),
    "system_state": frozenset(_AUDIT + ("key", "value", "reason")),
    "daemon_heartbeat": frozenset(_AUDIT + ("host", "pid", "role", "started_at", "beat_at",
                                            "trading_paused", "notify_listener")),
    "alert": frozenset(_AUDIT + ("run_id", "kind", "message", "delivery")),
    "fee_activity": frozenset(_AUDIT + (
        "run_id", "activity_id", "status", "sub_type", "activity_day", "symbol",
        "alpaca_order_id", "amount", "effective", "replaces_activity_id", "description",
        "activity_type", "cost_kind",  # 0017
    )),
    "fee_allocation": frozenset(_AUDIT + (
        "run_id", "fee_activity_id", "fill_id", "trade_journal_id", "basis", "amount",
    )),
    "notify_outbox": frozenset(_AUDIT + (
        "event_log_id", "kind", "status", "attempts", "next_attempt_at", "body", "last_error",
        "sent_at",
    )),
    "notify_delivery": frozenset(_AUDIT + ("outbox_id", "attempt", "status", "error")),
    "corporate_action": frozenset(_AUDIT + (
        "run_id", "action_id", "kind", "symbol", "new_symbol", "old_rate", "new_rate",
        "effective_date", "source", "alerted_at",
    )),
    "corporate_action_trade": frozenset(_AUDIT + (
        "run_id", "action_id", "trade_journal_id", "ratio", "qty_before", "qty_after",
        "cash_in_lieu", "symbol_before", "symbol_after", "applied_at", "repriced_at", "detail",
    )),
}

# The read-only views of 0009_nocodb.sql a trader opens first in NocoDB. Never written, so
# check_table does not know them; the registry test checks their columns too.
VIEWS: dict[str, frozenset[str]] = {
    "v_trade_lifecycle": frozenset((
        "trade_journal_id", "analysis_decision_id", "decision_action", "decision_outcome",
        "decision_reason", "decided_at", "symbol", "side", "trade_style", "protection_mode",
        "origin", "status", "planned_qty", "planned_entry_price", "planned_stop_loss",
        "planned_take_profit", "time_in_force", "entry_client_order_id",
        "entry_alpaca_order_id", "entry_order_status", "orders", "open_orders", "fills",
        "entry_filled_qty", "exit_filled_qty", "actual_qty", "actual_entry_price", "entry_date",
        "protected_at", "unprotected_seconds", "last_fill_at", "position_qty", "current_price",
        "unrealized_pnl", "exit_date", "exit_price", "exit_reason_code", "exit_reason", "fees",
        "realized_pnl", "days_open", "replaces_trade_journal_id",
        "replaced_by_trade_journal_id", "created_at", "updated_at",
    )),
    "v_open_positions": frozenset((
        "trade_journal_id", "symbol", "side", "qty", "avg_entry_price", "current_price",
        "market_value", "unrealized_pnl", "unrealized_r", "mark_stale", "last_price_at",
        "planned_stop_loss", "live_stop_price", "stop_order_status", "planned_take_profit",
        "high_water_mark", "trail_step", "target_reached_at", "exit_approved", "trade_status",
        "trade_style", "origin", "analysis_decision_id", "entry_date", "days_open", "updated_at",
    )),
    "v_daily_pnl": frozenset((
        "trading_day", "trades_closed", "winning_trades", "losing_trades", "fees",
        "realized_pnl", "start_equity", "last_equity", "peak_equity", "equity_change",
    )),
}

# Columns the database maintains; callers never write them.
READ_ONLY_COLUMNS = frozenset({"id", "created_at", "updated_at"})
JSON_COLUMNS = frozenset({"decision", "summary", "positions", "open_orders", "discrepancies",
                          "detail"})  # reconciliation_issue.detail too


def check_table(table: str) -> frozenset[str]:
    try:
        return TABLES[table]
    except (KeyError, TypeError):
        raise UnknownSchemaError(f"unknown table {table!r}") from None


def check_columns(table: str, columns: object) -> list[str]:
    known = check_table(table)
    names = list(columns)  # type: ignore[call-overload]
    unknown = [c for c in names if c not in known]
    if unknown:
        raise UnknownSchemaError(f"unknown column(s) for {table}: {', '.join(map(repr, unknown))}")
    return names
