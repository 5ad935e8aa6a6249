"""What the demo week did, read back from the database (collect) and printed (render).

The P&L is computed twice: from the trade journal (what the order monitor booked) and from
the fills alone (entry and exit prices times quantities); the open positions' unrealised
P&L from the fills is set against the broker's own figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from trading_monitor.db_layer import TradingDB

CENT = Decimal("0.01")

OUTCOMES = """
SELECT d.id, d.ticker, d.primary_action, o.terminal_state, o.reason,
       t.id AS trade_id, t.status AS trade_status, t.exit_reason_code, t.actual_pnl
FROM analysis_decision d
LEFT JOIN decision_outcome o ON o.analysis_decision_id = d.id
LEFT JOIN LATERAL (SELECT * FROM trade_journal j WHERE j.initial_analysis_id = d.id
                   ORDER BY j.id DESC LIMIT 1) t ON true
ORDER BY d.id
"""


@dataclass
class Summary:
    outcomes: list[dict[str, Any]]
    trades: list[dict[str, Any]]
    fills: list[dict[str, Any]]
    job_runs: list[tuple[str, datetime]]
    realised_journal: Decimal
    realised_fills: Decimal
    unrealised_fills: Decimal
    unrealised_broker: Decimal
    unbooked_fills: int  # fills on no trade of ours (there should be none)
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def pnl_agrees(self) -> bool:
        return (self.realised_journal == self.realised_fills
                and abs(self.unrealised_fills - self.unrealised_broker) <= CENT)


def _trade_pnl(trade: dict[str, Any], fills: list[dict[str, Any]], mark: Decimal | None
               ) -> tuple[Decimal, Decimal]:
    """Realised and unrealised P&L of one trade from its fills alone."""
    sign = Decimal(1) if trade["side"] == "buy" else Decimal(-1)
    entries = [f for f in fills if f["side"] == trade["side"]]
    exits = [f for f in fills if f["side"] != trade["side"]]
    entry_qty = sum((f["qty"] for f in entries), Decimal(0))
    if not entry_qty:
        return Decimal(0), Decimal(0)
    entry_avg = sum((f["qty"] * f["price"] for f in entries), Decimal(0)) / entry_qty
    exit_qty = sum((f["qty"] for f in exits), Decimal(0))
    exit_value = sum((f["qty"] * f["price"] for f in exits), Decimal(0))
    realised = sign * (exit_value - exit_qty * entry_avg)
    open_qty = entry_qty - exit_qty
    unrealised = sign * (mark - entry_avg) * open_qty if mark is not None and open_qty else 0
    return realised.quantize(CENT), Decimal(unrealised).quantize(CENT)


def collect(db: TradingDB, broker_positions: list[dict[str, Any]]) -> Summary:
    outcomes = [dict(r) for r in db.execute_query(OUTCOMES)]
    trades = [dict(r) for r in db.execute_query(
        "SELECT id, initial_analysis_id, symbol, side, trade_style, status, exit_reason_code, "
        "actual_qty, actual_pnl FROM trade_journal ORDER BY id")]
    fills = [dict(r) for r in db.execute_query(
        "SELECT trade_journal_id, symbol, side, qty, price, filled_at FROM fills "
        "ORDER BY filled_at, id")]
    runs = [(str(r["job_name"]), r["started_at"]) for r in db.execute_query(
        "SELECT job_name, started_at FROM job_run ORDER BY started_at, id")]
    marks = {p["symbol"]: Decimal(str(p["current_price"])) for p in broker_positions}
    realised = unrealised = Decimal(0)
    for trade in trades:
        mine = [f for f in fills if f["trade_journal_id"] == trade["id"]]
        r, u = _trade_pnl(trade, mine, marks.get(trade["symbol"]))
        realised, unrealised = realised + r, unrealised + u
    journal = sum((Decimal(t["actual_pnl"]) for t in trades
                   if t["status"] == "CLOSED" and t["actual_pnl"] is not None), Decimal(0))
    broker = sum((Decimal(str(p["unrealized_pl"])) for p in broker_positions), Decimal(0))
    return Summary(outcomes, trades, fills, runs, journal.quantize(CENT), realised,
                   unrealised, broker.quantize(CENT),
                   sum(1 for f in fills if f["trade_journal_id"] is None))


def _money(value: Decimal) -> str:
    return f"{value:+,.2f}"


def outcome_table(summary: Summary) -> Table:
    table = Table(title="Decisions and what became of them", show_lines=False)
    for name in ("id", "ticker", "action", "outcome", "trade", "P&L", "reason"):
        table.add_column(name, overflow="fold", justify="right" if name in ("id", "P&L")
                         else "left", max_width=70 if name == "reason" else None)
    for row in summary.outcomes:
        trade = ""
        if row["trade_id"] is not None:
            trade = f"#{row['trade_id']} {row['trade_status']}"
            if row["exit_reason_code"]:
                trade += f" {row['exit_reason_code']}"
        pnl = _money(Decimal(row["actual_pnl"])) if row["actual_pnl"] is not None else ""
        table.add_row(str(row["id"]), row["ticker"] or "", row["primary_action"] or "",
                      row["terminal_state"] or "PENDING", trade, pnl, row["reason"] or "")
    return table


def pnl_table(summary: Summary) -> Table:
    table = Table(title="The week's P&L")
    table.add_column("")
    table.add_column("booked", justify="right")
    table.add_column("from the fills", justify="right")
    table.add_row("realised (closed trades)", _money(summary.realised_journal),
                  _money(summary.realised_fills))
    table.add_row("unrealised (open positions, broker's mark)",
                  _money(summary.unrealised_broker), _money(summary.unrealised_fills))
    table.add_row("total", _money(summary.realised_journal + summary.unrealised_broker),
                  _money(summary.realised_fills + summary.unrealised_fills))
    return table


def render(summary: Summary, console: Console) -> None:
    console.print(outcome_table(summary))
    console.print(pnl_table(summary))
    verdict = "[green]agree[/]" if summary.pnl_agrees else "[red]DISAGREE[/]"
    console.print(f"P&L booked and P&L from the {len(summary.fills)} fills {verdict}.")
