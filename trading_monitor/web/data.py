"""What the cockpit page shows, read from our tables (read-only, no broker request).

Protection first: each open position with the stop the broker holds for it (our order rows,
kept true to the broker by the order monitor and the trade_updates stream), the distance to
that stop and the dollars lost if it fills from the last mark.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from trading_monitor.cli import book
from trading_monitor.cli.status import fail_closed
from trading_monitor.cockpit.health import messages_failed
from trading_monitor.db.connection import Row, TradingDB
from trading_monitor.db.queries import Queries
from trading_monitor.domain.lifecycle import LIVE_ORDER_STATUSES
from trading_monitor.domain.pnl import realized_pnl
from trading_monitor.domain.sides import sign
from trading_monitor.engine.halts import halt_states
from trading_monitor.settings.config import Settings
from trading_monitor.web.broker_view import BrokerStops

QUERIES = Queries(__name__)  # queries.sql beside this module

ZERO = Decimal(0)









@dataclass(frozen=True)
class Position:
    """One open position, protection first."""

    trade_id: int
    symbol: str
    side: str  # long | short
    qty: Decimal  # shares held (positive)
    entry: Decimal | None
    mark: Decimal | None
    mark_stale: bool
    stop: Decimal | None
    stop_qty: Decimal
    target: Decimal | None
    trail_step: Any
    unprotected_seconds: Decimal | None
    exit_since: datetime | None
    exit_purpose: str | None
    unrealized_pnl: Decimal | None
    stop_ids: tuple[str, ...] = ()

    @property
    def unprotected_qty(self) -> Decimal:
        return max(self.qty - self.stop_qty, ZERO)

    @property
    def reference(self) -> Decimal | None:
        """The price the risk is measured from: the last mark, else the entry."""
        return self.mark if self.mark is not None else self.entry

    @property
    def stop_distance_pct(self) -> Decimal | None:
        ref = self.reference
        if self.stop is None or not ref:
            return None
        return (abs(ref - self.stop) / ref * 100).quantize(Decimal("0.01"))

    @property
    def at_risk(self) -> Decimal | None:
        """Dollars lost from the reference price if the stop fills for the shares it covers
        (None: no stop at all; the unprotected shares are shown apart)."""
        ref = self.reference
        if self.stop is None or ref is None:
            return None
        per_share = (ref - self.stop) * sign(self.side)
        return (per_share * min(self.stop_qty, self.qty)).quantize(Decimal("0.01"))


    @property
    def at_stop_vs_entry(self) -> Decimal | None:
        """P&L against the entry if the stop fills (positive: the stop locks a profit in)."""
        if self.stop is None or self.entry is None:
            return None
        covered = min(self.stop_qty, self.qty)
        return realized_pnl(self.side, self.entry, self.stop, covered).quantize(Decimal("0.01"))


def positions(db: TradingDB) -> list[Position]:
    rows = book.read(db, QUERIES["positions"], {"protects": list(book.LIVE_STOP_STATUSES),
                                     "live": sorted(LIVE_ORDER_STATUSES)})
    return [_position(r) for r in rows]


def _position(r: Row) -> Position:
    qty = abs(Decimal(r["qty"]))
    return Position(
        trade_id=int(r["id"]), symbol=r["symbol"], side=r["side"] if r["side"] in (
            "long", "short") else ("short" if Decimal(r["qty"]) < 0 else "long"),
        qty=qty, entry=r["avg_entry_price"] or r["entry_price"], mark=r["current_price"],
        mark_stale=bool(r["mark_stale"]), stop=r["stop_price"],
        stop_qty=Decimal(r["stop_qty"] or 0),
        target=r["target_price"] if r["target_price"] is not None else r["planned_take_profit"],
        trail_step=r["trail_step"], unprotected_seconds=r["unprotected_seconds"],
        exit_since=r["exit_since"], exit_purpose=r["exit_purpose"],
        unrealized_pnl=r["unrealized_pnl"], stop_ids=tuple(r["stop_ids"] or ()))


def total_at_risk(held: list[Position]) -> Decimal:
    return sum((p.at_risk or ZERO for p in held), ZERO)


def gather(db: TradingDB, settings: Settings, now: datetime,
           stops: BrokerStops | None = None) -> dict[str, Any]:
    """Everything the page shows, as plain data; with `stops`, each position's stop as the
    broker lists it beside the books' (trade id -> (confirmed, text))."""
    day = book.trading_day(now)
    start, end = book.day_bounds(day)
    held = positions(db)
    broker = {p.trade_id: stops.check(p.stop_ids, p.qty) for p in held} if stops else {}
    trades = book.open_trades(db)
    recon = db.named("system_value", {"key": "reconciliation_status"})
    return {
        "as_of": now, "trading_day": day, "positions": held, "broker": broker,
        "broker_read_at": stops.at if stops else None,
        "total_at_risk": total_at_risk(held),
        "unprotected": [p for p in held if p.unprotected_qty > 0],
        "pending": book.read(db, QUERIES["pending_entries"]),
        "pnl_today": book.pnl_today(db, day, trades),
        "equity_today": book.read(db, QUERIES["equity_today"], {"start": start, "end": end}),
        "equity_days": list(reversed(book.read(db, QUERIES["equity_days"]))),
        "halts": halt_states(db, day, settings.trading_halted),
        "reconciliation": {"status": str(recon[0]["value"]) if recon and recon[0]["value"]
                           else None, "issues": book.read(db, QUERIES["reconciliation"])},
        "jobs": book.last_job_runs(db),
        "decisions": book.read(db, QUERIES["decisions_today"], {"start": start, "end": end}),
        "alerts": book.read(db, QUERIES["last_alerts"]),
        "messages_failed": messages_failed(db, now),
        "daemons": book.heartbeats(db, now),
        **fail_closed(db),
    }
