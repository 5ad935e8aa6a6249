"""What the demo week did, read back from the database (collect) and printed (render).

The P&L is computed twice: from the trade journal (what the order monitor booked) and from
the fills alone (entry and exit prices times quantities); the open positions' unrealised
P&L from the fills is set against the broker's own figure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from trading_monitor.db.connection import TradingDB
from trading_monitor.db.queries import Queries
from trading_monitor.domain.sides import sign as side_sign

QUERIES = Queries(__name__)  # queries.sql beside this module

CENT = Decimal("0.01")



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
    sign = side_sign(trade["side"])
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
    outcomes = [dict(r) for r in db.execute_query(QUERIES["outcomes"])]
    trades = [dict(r) for r in db.execute_query(
        QUERIES["trades"])]
    fills = [dict(r) for r in db.execute_query(
        QUERIES["fills"])]
    runs = [(str(r["job_name"]), r["started_at"]) for r in db.execute_query(
        QUERIES["job_runs"])]
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


WIDTH = 80  # the decision table fits a plain terminal, or a log without one
# Broker ids stay in the database: they make a reason long and say nothing to a reader.
_BROKER_ID = re.compile(r",?\s*(?:broker order )?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-"
                        r"[0-9a-f]{4}-[0-9a-f]{12}")


def short_reason(text: str, width: int = WIDTH - 6) -> str:
    """A reason on one line of at most `width` characters, without broker ids."""
    plain = " ".join(_BROKER_ID.sub("", text).split()).replace(": is ", ": ")
    return plain if len(plain) <= width else plain[:width - 1].rstrip() + "…"


def _trade_text(row: dict[str, Any]) -> str:
    if row["trade_id"] is None:
        return ""
    text = f"trade #{row['trade_id']} {row['trade_status']}"
    if row["exit_reason_code"]:
        text += f" {row['exit_reason_code']}"
    return text


def outcome_lines(summary: Summary) -> list[str]:
    """Two lines per decision, none wider than WIDTH: what it was and became, then why."""
    lines = [f"{'#':>3} {'ticker':<7}{'action':<10}{'outcome':<9}{'trade':<30}{'P&L':>10}"]
    for row in summary.outcomes:
        pnl = _money(Decimal(row["actual_pnl"])) if row["actual_pnl"] is not None else ""
        lines.append(f"{row['id']:>3} {(row['ticker'] or '')[:6]:<7}"
                     f"{(row['primary_action'] or '')[:9]:<10}"
                     f"{(row['terminal_state'] or 'PENDING')[:8]:<9}"
                     f"{_trade_text(row)[:29]:<30}{pnl:>10}".rstrip())
        lines.append("      " + short_reason(row["reason"] or "no outcome yet"))
    return lines


def pnl_table(summary: Summary, period: str = "week") -> Table:
    table = Table(title=f"The {period}'s P&L")
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


def render(summary: Summary, console: Console, period: str = "week") -> None:
    console.print("[bold]Decisions and what became of them[/]")
    for line in outcome_lines(summary):
        console.print(line, markup=False, highlight=False, overflow="ignore", crop=False,
                      soft_wrap=True)
    console.print(pnl_table(summary, period))
    verdict = "[green]agree[/]" if summary.pnl_agrees else "[red]DISAGREE[/]"
    console.print(f"P&L booked and P&L from the {len(summary.fills)} fills {verdict}.")
