"""The daily report's figures, computed from the rows alone (pure, Decimal): what the
Markdown, the JSON and the chart all show."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any

from trading_monitor.db.connection import Row
from trading_monitor.domain.pnl import slippage_bps
from trading_monitor.domain.sides import exit_side, sign
from trading_monitor.report.data import DayRows

ZERO = Decimal(0)
R_PLACES = Decimal("0.01")
NOT_EXECUTED = ("REJECTED", "SKIPPED")


def _within(at: datetime | None, start: datetime, end: datetime) -> bool:
    return at is not None and start <= at < end


def initial_risk(t: Row) -> Decimal | None:
    """Risk per share at the entry: entry price to the first stop, on the losing side."""
    entry, stop = t["actual_entry_price"], t["first_stop"] or t["planned_stop_loss"]
    if entry is None or stop is None:
        return None
    risk = (Decimal(entry) - Decimal(stop)) * sign(t["side"])
    return risk if risk > 0 else None  # a stop on the wrong side defines no R


def r_multiple(t: Row) -> Decimal | None:
    """Realised P&L per share over the initial risk per share (negative: a loss)."""
    risk, pnl, qty = initial_risk(t), t["actual_pnl"], t["actual_qty"]
    if risk is None or pnl is None or not qty:
        return None
    return (Decimal(pnl) / Decimal(qty) / risk).quantize(R_PLACES)


def entry_slippage(t: Row) -> Decimal | None:
    """As recorded at the fill, else from the limit asked and the average paid."""
    if t["entry_slippage_bps"] is not None:
        return Decimal(t["entry_slippage_bps"])
    asked, paid = t["planned_entry_price"], t["actual_entry_price"]
    return slippage_bps(t["side"], Decimal(asked), Decimal(paid)) if asked and paid else None


def exit_slippage(t: Row) -> Decimal | None:
    if t["exit_slippage_bps"] is not None:
        return Decimal(t["exit_slippage_bps"])
    asked, got = t["requested_exit_price"], t["exit_price"]
    return (slippage_bps(exit_side(t["side"]), Decimal(asked), Decimal(got)) if asked and got
            else None)


def _trade(t: Row) -> dict[str, Any]:
    return {"trade_id": t["id"], "symbol": t["symbol"], "side": t["side"],
            "origin": t["origin"], "qty": t["actual_qty"],
            "entry_price": t["actual_entry_price"], "entry_at": t["entry_date"],
            "first_stop": t["first_stop"] or t["planned_stop_loss"],
            "initial_risk_per_share": initial_risk(t),
            "entry_slippage_bps": entry_slippage(t)}


def _closed(t: Row) -> dict[str, Any]:
    return {**_trade(t), "exit_price": t["exit_price"], "exit_at": t["exit_date"],
            "exit_reason": t["exit_reason_code"], "exit_estimated": t["exit_estimated"],
            "realised_pnl": t["actual_pnl"], "fees": t["fees"], "r_multiple": r_multiple(t),
            "exit_slippage_bps": exit_slippage(t)}


def _open(t: Row, still_open: bool) -> dict[str, Any]:
    stop = t["live_stop"] if still_open else None
    return {**_trade(t), "qty": t["position_qty"] if still_open else t["actual_qty"],
            "stop": stop, "stop_status": t["live_stop_status"] if still_open else None,
            "protected": stop is not None if still_open else None,
            "take_profit": t["planned_take_profit"],
            "current_price": t["current_price"] if still_open else None,
            "unrealised_pnl": t["unrealized_pnl"] if still_open else None,
            "mark_at": t["last_price_at"] if still_open else None,
            "mark_stale": t["mark_stale"] if still_open else None,
            "closed_since": None if still_open else t["exit_date"]}


def _slippage(opened: list[Row], closed: list[Row]) -> list[dict[str, Any]]:
    rows = [{"trade_id": t["id"], "symbol": t["symbol"], "leg": "entry",
             "asked": t["planned_entry_price"], "filled": t["actual_entry_price"],
             "bps": entry_slippage(t)} for t in opened]
    rows += [{"trade_id": t["id"], "symbol": t["symbol"], "leg": "exit",
              "asked": t["requested_exit_price"], "filled": t["exit_price"],
              "bps": exit_slippage(t)} for t in closed]
    return sorted(rows, key=lambda r: (r["trade_id"], r["leg"] != "entry"))


def _targets(still_open: list[Row]) -> list[dict[str, Any]]:
    return [{"trade_id": t["id"], "symbol": t["symbol"], "side": t["side"],
             "target": t["planned_take_profit"], "current_price": t["current_price"],
             "reached_at": t["target_reached_at"],
             "approve_with": f"trading-monitor approve-exit {t['id']}"}
            for t in still_open if t["target_reached_at"] is not None and not t["exit_approved"]]


def _decisions(rows: list[Row]) -> dict[str, Any]:
    counts = Counter(r["terminal_state"] for r in rows)
    return {"settled": len(rows),
            "by_state": {s: counts.get(s, 0) for s in ("EXECUTED", "REJECTED", "SKIPPED")},
            "not_executed": [{"decision_id": r["analysis_decision_id"], "ticker": r["ticker"],
                              "action": r["primary_action"], "state": r["terminal_state"],
                              "reason": r["reason"], "at": r["decided_at"]}
                             for r in rows if r["terminal_state"] in NOT_EXECUTED]}


def _jobs(rows: list[Row]) -> list[dict[str, Any]]:
    keys = ("job_name", "runs", "succeeded", "partial", "failed", "missed_or_skipped",
            "running", "last_status", "last_started_at", "last_finished_at", "last_error")
    return [{k: r[k] for k in keys} for r in rows]


def _history(rows: list[Row], closed_window: list[Row]) -> dict[str, Any]:
    days = [{"day": r["trading_day"], "realised_pnl": r["realized_pnl"],
             "trades_closed": r["trades_closed"], "start_equity": r["start_equity"],
             "last_equity": r["last_equity"]} for r in rows]
    rs = [{"trade_id": t["id"], "symbol": t["symbol"], "closed_at": t["exit_date"],
           "r_multiple": r_multiple(t)} for t in closed_window]
    return {"days": days, "r_multiples": [r for r in rs if r["r_multiple"] is not None]}


def compute(rows: DayRows) -> dict[str, Any]:
    """Every figure of the report, as plain data (Decimals and datetimes kept exact)."""
    start, end = rows.start, rows.end
    trades = rows.trades
    opened = [t for t in trades if _within(t["entry_date"], start, end)]
    closed = [t for t in trades if t["status"] == "CLOSED" and _within(t["exit_date"], start, end)]
    at_close = [t for t in trades if t["exit_date"] is None or t["exit_date"] >= end]
    still_open = [t for t in at_close if t["status"] == "POSITION" and t["position_qty"]]
    open_ids = {t["id"] for t in still_open}
    closed_window = sorted((t for t in trades if t["status"] == "CLOSED"
                            and _within(t["exit_date"], rows.window_start, end)),
                           key=lambda t: (t["exit_date"], t["id"]))
    realised = sum((Decimal(t["actual_pnl"]) for t in closed if t["actual_pnl"] is not None),
                   ZERO)
    unrealised = sum((Decimal(t["unrealized_pnl"]) for t in still_open
                      if t["unrealized_pnl"] is not None), ZERO)
    rs = [r for r in (r_multiple(t) for t in closed) if r is not None]
    return {
        "day": rows.day,
        "pnl": {"realised": realised, "unrealised": unrealised, "total": realised + unrealised,
                "fees": sum((Decimal(t["fees"]) for t in closed if t["fees"] is not None),
                            ZERO),
                "trades_closed": len(closed),
                "winners": sum(1 for t in closed if (t["actual_pnl"] or 0) > 0),
                "losers": sum(1 for t in closed if (t["actual_pnl"] or 0) < 0),
                "total_r": sum(rs, ZERO),
                "unmarked_positions": sum(1 for t in still_open if t["unrealized_pnl"] is None)},
        "trades_opened": [_trade(t) for t in opened],
        "trades_closed": [_closed(t) for t in closed],
        "open_positions": [_open(t, t["id"] in open_ids) for t in at_close],
        "slippage": _slippage(opened, closed),
        "decisions": _decisions(rows.decisions),
        "targets_awaiting_approval": _targets(still_open),
        "alerts": [{"at": a["raised_at"], "kind": a["kind"], "message": a["message"],
                    "delivery": a["delivery"]} for a in rows.alerts],
        "jobs": _jobs(rows.jobs),
        "failed_runs": [dict(r) for r in rows.failed_runs],
        "history": _history(rows.history, closed_window),
        "unallocated_fees": _unallocated(rows.unallocated_fees),
        "incident": rows.incident,
        "corporate_actions": rows.corporate_actions,
        "exits_working": rows.exits_working,
        "held_elsewhere": rows.held_elsewhere,
    }


def _unallocated(rows: list[Row]) -> dict[str, Any]:
    """The day's FEE activities that no fill of ours carries (not in any trade's P&L)."""
    return {"total": sum((Decimal(r["amount"]) for r in rows), ZERO),
            "fees": [{"activity_id": r["activity_id"], "symbol": r["symbol"],
                      "order_id": r["alpaca_order_id"], "sub_type": r["sub_type"],
                      "description": r["description"], "amount": r["amount"],
                      "activity_type": r["activity_type"], "cost_kind": r["cost_kind"]}
                     for r in rows]}
