"""Reports on demand over a period (`trading-monitor report --period week|month`, or
`--from/--to`), whole or `--by symbol`: P&L, win rate, average R, slippage and the
protection window, from the database alone (pure Decimal figures over queries.sql rows).

- Closed trades (their exit in the period) make the P&L, the win rate and the R.
- Trades entered in the period make the entry slippage and the protection window (seconds
  from the first fill to the stop the broker accepted); closed ones the exit slippage.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from trading_monitor.db.connection import Row, TradingDB
from trading_monitor.report.data import day_bounds, query
from trading_monitor.report.figures import entry_slippage, exit_slippage, r_multiple

ZERO = Decimal(0)
TWO = Decimal("0.01")
PERIODS = ("week", "month")


@dataclass(frozen=True)
class Period:
    first: date  # New York days, both included
    last: date

    @property
    def label(self) -> str:
        return f"{self.first.isoformat()} to {self.last.isoformat()}"

    def bounds(self) -> tuple[datetime, datetime]:
        return day_bounds(self.first)[0], day_bounds(self.last)[1]


def calendar_period(kind: str, day: date) -> Period:
    """The calendar week (Monday to Sunday) or month holding `day`."""
    if kind == "week":
        monday = day - timedelta(days=day.weekday())
        return Period(monday, monday + timedelta(days=6))
    if kind == "month":
        last = calendar.monthrange(day.year, day.month)[1]
        return Period(day.replace(day=1), day.replace(day=last))
    raise ValueError(f"unknown period {kind!r}: one of {', '.join(PERIODS)}")


def load(db: TradingDB, period: Period) -> list[Row]:
    start, end = period.bounds()
    return query(db, "period_trades", {"start": start, "end": end})


def _mean(values: list[Decimal]) -> Decimal | None:
    return (sum(values, ZERO) / len(values)).quantize(TWO) if values else None


def _median(values: list[Decimal]) -> Decimal | None:
    if not values:
        return None
    ordered, mid = sorted(values), len(values) // 2
    middle = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return middle.quantize(Decimal("0.001"))


def figures(trades: Iterable[Row], period: Period) -> dict[str, Any]:
    """The figures of one group of trades (all of them, or one symbol's)."""
    start, end = period.bounds()
    rows = list(trades)
    closed = [t for t in rows if t["status"] == "CLOSED" and t["exit_date"] is not None
              and start <= t["exit_date"] < end]
    entered = [t for t in rows if start <= t["entry_date"] < end]
    pnls = [Decimal(t["actual_pnl"]) for t in closed if t["actual_pnl"] is not None]
    rs = [r for r in (r_multiple(t) for t in closed) if r is not None]
    winners = sum(1 for p in pnls if p > 0)
    entry_bps = [b for b in (entry_slippage(t) for t in entered) if b is not None]
    exit_bps = [b for b in (exit_slippage(t) for t in closed) if b is not None]
    windows = [Decimal(t["unprotected_seconds"]) for t in entered
               if t["unprotected_seconds"] is not None]
    return {
        "trades_entered": len(entered),
        "trades_closed": len(closed),
        "realised_pnl": sum(pnls, ZERO),
        "fees": sum((Decimal(t["fees"]) for t in closed if t["fees"] is not None), ZERO),
        "winners": winners,
        "losers": sum(1 for p in pnls if p < 0),
        "win_rate_pct": (Decimal(winners) * 100 / len(pnls)).quantize(Decimal("0.1"))
        if pnls else None,
        "average_r": _mean(rs),
        "total_r": sum(rs, ZERO),
        "entry_slippage_bps_avg": _mean(entry_bps),
        "exit_slippage_bps_avg": _mean(exit_bps),
        "protected_entries": len(windows),
        "never_protected": sum(1 for t in entered if t["protected_at"] is None),
        "protection_seconds_median": _median(windows),
        "protection_seconds_max": max(windows) if windows else None,
    }


def compute(rows: list[Row], period: Period, by_symbol: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = {"from": period.first, "to": period.last,
                              "total": figures(rows, period)}
    if by_symbol:
        symbols = sorted({t["symbol"] for t in rows})
        result["by_symbol"] = {s: figures((t for t in rows if t["symbol"] == s), period)
                               for s in symbols}
    return result


COLUMNS = (("closed", "trades_closed"), ("P&L", "realised_pnl"), ("fees", "fees"),
           ("win rate %", "win_rate_pct"), ("avg R", "average_r"),
           ("entry slip bps", "entry_slippage_bps_avg"),
           ("exit slip bps", "exit_slippage_bps_avg"), ("entered", "trades_entered"),
           ("stop after s (median)", "protection_seconds_median"),
           ("max s", "protection_seconds_max"), ("never protected", "never_protected"))


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "—"
    if key == "win_rate_pct":
        return str(value)  # 50.0, one decimal always
    if key in ("realised_pnl", "fees"):
        return f"{Decimal(value):+,.2f}" if key == "realised_pnl" else f"{Decimal(value):,.2f}"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}" if value == value.to_integral() else str(value)
    return str(value)


def render(result: dict[str, Any]) -> str:
    """A Markdown table: one row for the total, one per symbol with --by symbol."""
    lines = [f"# Trading report {result['from'].isoformat()} to {result['to'].isoformat()}",
             "", "New York days, both included. P&L, win rate and R: trades closed in the "
             "period; entry slippage and the protection window (first fill to accepted "
             "stop): trades entered in it. Slippage in basis points worse than asked.", "",
             "| | " + " | ".join(title for title, _key in COLUMNS) + " |",
             "|---|" + "---|" * len(COLUMNS)]
    groups = [("**all**", result["total"]), *result.get("by_symbol", {}).items()]
    for name, f in groups:
        lines.append(f"| {name} | " + " | ".join(_cell(key, f[key]) for _t, key in COLUMNS)
                     + " |")
    return "\n".join(lines) + "\n"
