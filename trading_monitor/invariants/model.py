"""The invariant checker's vocabulary: the invariants, what a check finds, the books it reads.

Pure: no I/O. `Books` holds the rows read from the database in one snapshot, with the
indexes every check needs; `BrokerView` (broker_view.py) holds what the broker showed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from trading_monitor.db.connection import Row

VIOLATION, WARNING, INFO = "violation", "warning", "info"
ZERO = Decimal(0)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Invariant:
    name: str
    title: str
    broker: str  # what it reads at the broker: "all" (skipped without it), "part" or "none"
    origin: str  # where it comes from: seed 001's letter(s), or ours


INVARIANTS: tuple[Invariant, ...] = (
    Invariant("terminal_state", "every decision has exactly one terminal state", "none",
              "seed 001 A and B"),
    Invariant("live_stop", "every open position has a live stop at the broker for its full "
                           "quantity", "all", "ours"),
    Invariant("books_agree", "journal, orders, fills and positions agree", "part", "ours"),
    Invariant("single_entry", "no decision has more than one entry order at the broker",
              "part", "seed 001 C"),
    Invariant("pnl_matches_fills", "the P&L of each closed trade equals its fills", "none",
              "ours"),
    Invariant("no_entry_in_halt", "no entry was sent while a reconciliation FAIL or a halt "
                                  "stood", "none", "seed 001 D"),
    Invariant("orders_are_real", "every order recorded as sent is at the broker under its "
                                 "client order id", "part", "seed 001 E"),
    Invariant("snapshots", "one START and at most one END broker snapshot per trading day",
              "none", "seed 001 F"),
)
BY_NAME = {i.name: i for i in INVARIANTS}


@dataclass(frozen=True)
class Finding:
    invariant: str
    severity: str  # violation | warning | info
    message: str
    trade_id: int | None = None
    decision_id: int | None = None
    client_order_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Limits:
    """How long a state may last before it counts, measured against `now` (the job clock)."""

    now: datetime
    pending_age: timedelta = timedelta(days=1)  # an unexecuted decision older: a warning
    bracket_window: timedelta = timedelta(minutes=7)  # partial bracket: timeout + one poll
    settle_grace: timedelta = timedelta(minutes=5)  # books follow fills within one poll
    orphan_grace: timedelta = timedelta(minutes=5)  # protection left after a close
    halt_race: timedelta = timedelta(seconds=5)  # an entry this close to a halt: a race
    first_decision: int = 0  # decisions below this id are not ours to check (legacy rows)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def trade_label(trade: Row) -> str:
    """`trade #4 AAPL (decision #7)`: how every finding names a trade."""
    decision = trade.get("initial_analysis_id")
    origin = (f"decision #{decision}" if decision else
              "EXTERNAL" if trade.get("origin") == "EXTERNAL" else "no decision")
    return f"trade #{trade['id']} {trade['symbol']} ({origin})"


@dataclass
class Books:
    """Every row the checks read, from one database snapshot."""

    installation: str
    decisions: list[Row] = field(default_factory=list)
    outcomes: list[Row] = field(default_factory=list)
    trades: list[Row] = field(default_factory=list)
    orders: list[Row] = field(default_factory=list)
    fills: list[Row] = field(default_factory=list)
    positions: list[Row] = field(default_factory=list)
    halt_events: list[Row] = field(default_factory=list)
    snapshots: list[Row] = field(default_factory=list)
    halt_settings: list[Row] = field(default_factory=list)  # system_state rows of the halts

    def __post_init__(self) -> None:
        self.trade_by_id = {int(t["id"]): t for t in self.trades}
        self.orders_by_trade: dict[int, list[Row]] = defaultdict(list)
        self.order_by_id = {int(o["id"]): o for o in self.orders}
        self.order_by_alpaca = {o["alpaca_order_id"]: o for o in self.orders
                                if o["alpaca_order_id"]}
        self.order_by_client = {o["client_order_id"]: o for o in self.orders}
        for o in self.orders:
            if o["trade_journal_id"] is not None:
                self.orders_by_trade[int(o["trade_journal_id"])].append(o)
        self.fills_by_trade: dict[int, list[Row]] = defaultdict(list)
        for f in self.fills:
            if f["trade_journal_id"] is not None:
                self.fills_by_trade[int(f["trade_journal_id"])].append(f)
        self.position_by_trade = {int(p["trade_journal_id"]): p for p in self.positions
                                  if p["trade_journal_id"] is not None}

    def fill_role(self, fill: Row) -> str:
        """ENTRY or the role of the exit that filled (an unknown order counts as an exit)."""
        order = (self.order_by_id.get(int(fill["order_execution_id"]))
                 if fill["order_execution_id"] is not None else None)
        order = order or self.order_by_alpaca.get(fill["alpaca_order_id"])
        return str(order["order_role"]) if order else "EXIT"

    def entry_side(self, trade: Row) -> tuple[Decimal, Decimal | None]:
        """Shares the trade's entry bought (or sold short) and their average price, an
        EXTERNAL trade's adopted position included."""
        fills = [f for f in self.fills_by_trade.get(int(trade["id"]), [])
                 if self.fill_role(f) == "ENTRY"]
        qty = sum((f["qty"] for f in fills), ZERO)
        value = sum((f["qty"] * f["price"] for f in fills), ZERO)
        if trade.get("origin") == "EXTERNAL" and trade["actual_qty"]:
            qty += trade["actual_qty"]
            value += trade["actual_qty"] * (trade["actual_entry_price"] or ZERO)
        return qty, (value / qty if qty else None)

    def exit_fills(self, trade: Row) -> list[Row]:
        return [f for f in self.fills_by_trade.get(int(trade["id"]), [])
                if self.fill_role(f) != "ENTRY"]

    def position_qty_per_fills(self, trade: Row) -> Decimal:
        return self.entry_side(trade)[0] - sum((f["qty"] for f in self.exit_fills(trade)),
                                               ZERO)

    def last_activity(self, trade: Row) -> datetime | None:
        """The trade's latest fill (or its first fill time): how fresh its books are."""
        times = [f["filled_at"] for f in self.fills_by_trade.get(int(trade["id"]), [])]
        times += [t for t in (trade.get("first_fill_at"), trade.get("entry_date")) if t]
        return max(times, default=None)

    def latest_entry(self, trade: Row) -> Row | None:
        entries = [o for o in self.orders_by_trade.get(int(trade["id"]), [])
                   if o["order_role"] == "ENTRY"]
        return entries[-1] if entries else None
