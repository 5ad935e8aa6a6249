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

from trading_monitor.cockpit.health import messages_failed
from trading_monitor.commands import book
from trading_monitor.commands.status import fail_closed
from trading_monitor.config import Settings
from trading_monitor.db_layer import Row, TradingDB
from trading_monitor.domain.lifecycle import LIVE_ORDER_STATUSES
from trading_monitor.halts import halt_states
from trading_monitor.web.broker_view import BrokerStops

ZERO = Decimal(0)

POSITIONS = """
SELECT t.id, t.symbol, t.side, t.planned_take_profit, t.unprotected_seconds, t.protected_at,
       t.first_fill_at, COALESCE(t.actual_entry_price, t.planned_entry_price) AS entry_price,
       p.qty, p.avg_entry_price, p.current_price, p.unrealized_pnl, p.trail_step,
       p.last_price_at, COALESCE(p.mark_stale, false) AS mark_stale,
       (SELECT o.stop_price FROM order_execution o WHERE o.trade_journal_id = t.id
          AND o.order_role = 'STOP_LOSS' AND o.order_status = ANY(%(protects)s)
        ORDER BY o.id DESC LIMIT 1) AS stop_price,
       (SELECT COALESCE(sum(o.qty - o.filled_qty), 0) FROM order_execution o
         WHERE o.trade_journal_id = t.id AND o.order_role = 'STOP_LOSS'
           AND o.order_status = ANY(%(protects)s)) AS stop_qty,
       (SELECT array_agg(o.alpaca_order_id) FROM order_execution o
         WHERE o.trade_journal_id = t.id AND o.order_role = 'STOP_LOSS'
           AND o.order_status = ANY(%(protects)s) AND o.alpaca_order_id IS NOT NULL)
         AS stop_ids,
       (SELECT o.limit_price FROM order_execution o WHERE o.trade_journal_id = t.id
          AND o.order_role = 'TAKE_PROFIT' AND o.order_status = ANY(%(live)s)
        ORDER BY o.id DESC LIMIT 1) AS target_price,
       (SELECT min(COALESCE(o.submitted_at, o.created_at)) FROM order_execution o
         WHERE o.trade_journal_id = t.id AND o.order_role = 'EXIT'
           AND (o.order_status = ANY(%(live)s) OR o.order_status = 'pending_submit'))
         AS exit_since,
       (SELECT o.purpose FROM order_execution o WHERE o.trade_journal_id = t.id
          AND o.order_role = 'EXIT' AND o.order_status = ANY(%(live)s)
        ORDER BY o.id DESC LIMIT 1) AS exit_purpose
FROM trade_journal t
JOIN position_tracking p ON p.trade_journal_id = t.id
WHERE t.status = 'POSITION' AND p.qty <> 0
ORDER BY t.id
"""

PENDING_ENTRIES = """
SELECT t.id, t.symbol, t.side, t.planned_qty, t.planned_entry_price, t.planned_stop_loss
FROM trade_journal t WHERE t.status = 'PENDING' ORDER BY t.id
"""

DECISIONS_TODAY = """
SELECT o.analysis_decision_id, o.primary_action, o.ticker, o.terminal_state, o.reason,
       o.trade_journal_id, o.created_at
FROM decision_outcome o
WHERE o.created_at >= %(start)s AND o.created_at < %(end)s
ORDER BY o.id DESC LIMIT 50
"""

EQUITY_TODAY = """
SELECT created_at, equity FROM (
    SELECT created_at, equity FROM broker_snapshot
    WHERE equity IS NOT NULL AND created_at >= %(start)s AND created_at < %(end)s
    UNION ALL  -- each position-monitor run's read of the account (job_run.summary)
    SELECT finished_at, (summary->>'equity')::numeric FROM job_run
    WHERE job_name = 'position_monitor' AND status IN ('SUCCEEDED', 'PARTIAL')
      AND summary->>'equity' IS NOT NULL
      AND finished_at >= %(start)s AND finished_at < %(end)s
) points ORDER BY created_at LIMIT 2000
"""

EQUITY_DAYS = """
SELECT trading_day, start_equity, last_equity FROM daily_equity
ORDER BY trading_day DESC LIMIT 30
"""

LAST_ALERTS = """
SELECT created_at, kind, message, delivery FROM alert ORDER BY id DESC LIMIT 10
"""

RECONCILIATION = """
SELECT kind, symbol, trade_journal_id, first_seen_at FROM reconciliation_issue
WHERE resolved_at IS NULL ORDER BY id LIMIT 20
"""


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
        per_share = ref - self.stop if self.side == "long" else self.stop - ref
        return (per_share * min(self.stop_qty, self.qty)).quantize(Decimal("0.01"))


    @property
    def at_stop_vs_entry(self) -> Decimal | None:
        """P&L against the entry if the stop fills (positive: the stop locks a profit in)."""
        if self.stop is None or self.entry is None:
            return None
        per_share = self.stop - self.entry if self.side == "long" else self.entry - self.stop
        return (per_share * min(self.stop_qty, self.qty)).quantize(Decimal("0.01"))


def positions(db: TradingDB) -> list[Position]:
    rows = book.read(db, POSITIONS, {"protects": list(book.LIVE_STOP_STATUSES),
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
        "pending": book.read(db, PENDING_ENTRIES),
        "pnl_today": book.pnl_today(db, day, trades),
        "equity_today": book.read(db, EQUITY_TODAY, {"start": start, "end": end}),
        "equity_days": list(reversed(book.read(db, EQUITY_DAYS))),
        "halts": halt_states(db, day, settings.trading_halted),
        "reconciliation": {"status": str(recon[0]["value"]) if recon and recon[0]["value"]
                           else None, "issues": book.read(db, RECONCILIATION)},
        "jobs": book.last_job_runs(db),
        "decisions": book.read(db, DECISIONS_TODAY, {"start": start, "end": end}),
        "alerts": book.read(db, LAST_ALERTS),
        "messages_failed": messages_failed(db, now),
        "daemons": book.heartbeats(db, now),
        **fail_closed(db),
    }
