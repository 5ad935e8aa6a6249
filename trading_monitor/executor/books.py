"""What the executor writes: intents before sending, broker results after, outcomes last."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from trading_monitor.broker.models import BrokerOrder, OrderRequest
from trading_monitor.db_layer import Row, TradingDB
from trading_monitor.domain.decision import Decision
from trading_monitor.domain.lifecycle import (
    PENDING_SUBMIT,
    OrderRole,
    TerminalState,
    check_trade_transition,
    client_order_id,
)
from trading_monitor.runs import log_event

LEG_ROLES = {"stop": OrderRole.STOP_LOSS, "stop_limit": OrderRole.STOP_LOSS,
             "limit": OrderRole.TAKE_PROFIT}


@dataclass(frozen=True)
class Intent:
    """The rows written before an order goes out: one journal, one row per order leg."""

    journal_id: int
    entry: Row
    legs: tuple[Row, ...]

    @property
    def client_order_id(self) -> str:
        return str(self.entry["client_order_id"])


def installation_id(db: TradingDB) -> str:
    rows = db.named("system_value", {"key": "installation_id"})
    if not rows or not rows[0]["value"]:
        raise RuntimeError("system_state.installation_id missing: run `trading-monitor migrate`")
    return str(rows[0]["value"])


def order_class_for(d: Decision, protection_mode: str) -> str:
    if protection_mode == "staged":
        return "simple"
    return "bracket" if d.take_profit is not None else "oto"


def write_intent(db: TradingDB, run_id: str, installation: str, d: Decision, protection_mode: str,
                 replaces: Row | None = None) -> Intent:
    """Journal PENDING plus order rows awaiting submit, committed together."""
    order_class = order_class_for(d, protection_mode)
    qty = d.order_quantity
    exit_side = "sell" if d.side and d.side.value == "buy" else "buy"
    tif = d.order_time_in_force.value
    with db.transaction():
        journal_id = db.insert("trade_journal", {
            "run_id": run_id, "initial_analysis_id": d.decision_id, "symbol": d.ticker,
            "side": d.side.value if d.side else None,
            "trade_style": d.trade_style.value if d.trade_style else None,
            "protection_mode": protection_mode, "status": "PENDING",
            "planned_entry_price": d.entry_price, "planned_stop_loss": d.stop_loss,
            "planned_take_profit": d.take_profit, "planned_qty": qty, "time_in_force": tif,
            "replaces_trade_journal_id": replaces["trade_journal_id"] if replaces else None,
        })
        common = {"run_id": run_id, "trade_journal_id": journal_id,
                  "analysis_decision_id": d.decision_id, "symbol": d.ticker,
                  "order_class": order_class, "time_in_force": tif, "qty": qty,
                  "order_status": PENDING_SUBMIT}
        entry_id = db.insert("order_execution", {
            **common, "client_order_id": client_order_id(installation, d.decision_id,
                                                         OrderRole.ENTRY),
            "order_role": OrderRole.ENTRY.value, "side": d.side.value if d.side else None,
            "order_type": "limit", "limit_price": d.entry_price,
            "replaces_order_execution_id": replaces["id"] if replaces else None,
        })
        if order_class != "simple":
            _insert_leg(db, common, installation, d, entry_id, exit_side, OrderRole.STOP_LOSS,
                        "stop", stop_price=d.stop_loss)
            if d.take_profit is not None:
                _insert_leg(db, common, installation, d, entry_id, exit_side,
                            OrderRole.TAKE_PROFIT, "limit", limit_price=d.take_profit)
        log_event(db, run_id, "trade_journal", journal_id, "intent_written",
                  f"intent for decision #{d.decision_id}: {describe(d, order_class)}",
                  to_status="PENDING")
    found = load_intent(db, d.decision_id)
    assert found is not None
    return found


def _insert_leg(db: TradingDB, common: dict[str, Any], installation: str, d: Decision,
                entry_id: int, side: str, role: OrderRole, order_type: str,
                **prices: Decimal | None) -> None:
    db.insert("order_execution", {
        **common, **prices, "client_order_id": client_order_id(installation, d.decision_id, role),
        "order_role": role.value, "side": side, "order_type": order_type,
        "parent_order_execution_id": entry_id,
    })


def load_intent(db: TradingDB, decision_id: int) -> Intent | None:
    rows = db.named("orders_for_decision", {"decision_id": decision_id})
    entries = [r for r in rows if r["order_role"] == OrderRole.ENTRY.value]
    if not entries:
        return None
    entry = entries[-1]
    legs = tuple(r for r in rows if r["parent_order_execution_id"] == entry["id"])
    return Intent(journal_id=int(entry["trade_journal_id"]), entry=entry, legs=legs)


def order_request(intent: Intent) -> OrderRequest:
    e = intent.entry
    stop = next((leg["stop_price"] for leg in intent.legs
                 if leg["order_role"] == OrderRole.STOP_LOSS.value), None)
    take = next((leg["limit_price"] for leg in intent.legs
                 if leg["order_role"] == OrderRole.TAKE_PROFIT.value), None)
    return OrderRequest(
        client_order_id=e["client_order_id"], symbol=e["symbol"], side=e["side"], qty=e["qty"],
        order_type=e["order_type"], time_in_force=e["time_in_force"],
        limit_price=e["limit_price"], stop_price=e["stop_price"], order_class=e["order_class"],
        take_profit_limit=take, stop_loss_stop=stop,
    )


def record_order(db: TradingDB, run_id: str, row: Row, order: BrokerOrder) -> None:
    """Copy the broker's view of one order (and its legs, matched by type) onto our rows."""
    _set_order(db, run_id, row, order)
    if not order.legs:
        return
    for leg_row in db.query("order_execution", {"parent_order_execution_id": row["id"]}):
        leg = next((lg for lg in order.legs if LEG_ROLES.get(lg.order_type) ==
                    OrderRole(leg_row["order_role"])), None)
        if leg is not None:
            _set_order(db, run_id, leg_row, leg)


def _set_order(db: TradingDB, run_id: str, row: Row, order: BrokerOrder) -> None:
    db.update("order_execution", row["id"], {
        "run_id": run_id, "alpaca_order_id": order.id, "order_status": order.status,
        "qty": order.qty or row["qty"], "submitted_at": order.submitted_at,
        "filled_qty": order.filled_qty, "filled_avg_price": order.filled_avg_price,
        "filled_at": order.filled_at,
    })
    if row["order_status"] != order.status:
        log_event(db, run_id, "order_execution", row["id"], "order_status",
                  f"{row['client_order_id']} is {order.status} at the broker ({order.id})",
                  from_status=row["order_status"], to_status=order.status)


def mark_orders(db: TradingDB, run_id: str, rows: list[Row], status: str, message: str) -> None:
    for row in rows:
        db.update("order_execution", row["id"], {"run_id": run_id, "order_status": status,
                                                 "broker_message": message[:1000]})
        log_event(db, run_id, "order_execution", row["id"], "order_status", message,
                  from_status=row["order_status"], to_status=status)


def close_intent(db: TradingDB, run_id: str, intent: Intent, reason: str,
                 mark_as: str | None) -> None:
    """The trade ends before trading: its order rows marked (unless the broker's status is
    already on them) and the journal REJECTED, together."""
    with db.transaction():
        if mark_as is not None:
            mark_orders(db, run_id, [intent.entry, *intent.legs], mark_as, reason)
        set_journal(db, run_id, intent.journal_id, "REJECTED", reason)


def note_pending(db: TradingDB, run_id: str, row: Row, message: str) -> None:
    db.update("order_execution", row["id"], {"run_id": run_id, "broker_message": message[:1000]})
    log_event(db, run_id, "order_execution", row["id"], "deferred", message)


def set_journal(db: TradingDB, run_id: str, journal_id: int, status: str, reason: str,
                *, closing: bool = False, **extra: Any) -> None:
    current = db.get_by_id("trade_journal", journal_id)
    if current is not None:
        check_trade_transition(current["status"], status)
    data: dict[str, Any] = {"run_id": run_id, "status": status, **extra}
    if closing:
        data.update(exit_reason=reason[:1000], exit_date=datetime.now(timezone.utc))
    else:
        data.setdefault("notes", reason[:1000])
    db.update("trade_journal", journal_id, data)
    log_event(db, run_id, "trade_journal", journal_id, "status", reason,
              from_status=current["status"] if current else None, to_status=status)


def finish_decision(db: TradingDB, run_id: str, row: Row, state: TerminalState, reason: str, *,
                    journal_id: int | None = None, client_order_id: str | None = None,
                    set_order_id: str | None = None, set_journal_id: int | None = None) -> None:
    """The one terminal state (kept if one exists) and executed = true; in the claim transaction."""
    db.named("insert_outcome", {
        "run_id": run_id, "decision_id": row["id"], "primary_action": row.get("primary_action"),
        "ticker": row.get("ticker"), "terminal_state": state.value, "reason": reason[:2000],
        "trade_journal_id": journal_id, "client_order_id": client_order_id,
    })
    db.named_update("mark_decision_executed", {
        "decision_id": row["id"], "existing_order_id": set_order_id,
        "existing_trade_journal_id": set_journal_id,
    })
    log_event(db, run_id, "analysis_decision", row["id"], "terminal", reason,
              to_status=state.value)


def describe(d: Decision, order_class: str) -> str:
    side = d.side.value if d.side else "?"
    text = f"{side} {d.order_quantity} {d.ticker} limit {d.entry_price}, stop {d.stop_loss}"
    if d.take_profit is not None:
        text += f", take profit {d.take_profit}"
    return f"{text}, {d.order_time_in_force.value}, {order_class}"


