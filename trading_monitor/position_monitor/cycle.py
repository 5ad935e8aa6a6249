"""One position-monitor cycle.

1. The order monitor's sync, so our books hold every fill and order status the broker has.
2. Reconciliation: broker positions and open orders against our trades (PASS or FAIL).
3. Marks: one batched market-data request per 100 symbols.
4. Staircase trailing stops, profit targets awaiting approval.
5. Risk halts (daily loss, drawdown, a persistent reconciliation failure) and snapshots.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from trading_monitor.broker.models import BrokerAccount, BrokerPosition
from trading_monitor.domain.reconcile import Issue, IssueKind
from trading_monitor.domain.risk import net_cash_flow
from trading_monitor.engine.exits_working import alert_overdue
from trading_monitor.engine.fees import book_fees
from trading_monitor.engine.halts import check_loss_limits, clear_halt, set_halt
from trading_monitor.engine.housekeeping import NEW_YORK, session_close
from trading_monitor.engine.settle import open_filled_entries, settle_booked_exits
from trading_monitor.engine.snapshots import has_snapshot, loss_baseline, record_snapshot
from trading_monitor.engine.state import open_trades
from trading_monitor.engine.sync import SyncResult, sync_orders
from trading_monitor.position_monitor.context import PositionMonitor
from trading_monitor.position_monitor.corporate_missed import corporate_step
from trading_monitor.position_monitor.halt_watch import watch_halts
from trading_monitor.position_monitor.incident import (
    contradiction,
    fault_cleared,
    fault_since,
    open_incident,
    raise_incident,
)
from trading_monitor.position_monitor.marks import mark_positions
from trading_monitor.position_monitor.reconcile import reconcile_books
from trading_monitor.position_monitor.resting_stops import resting_stops
from trading_monitor.position_monitor.targets import profit_targets
from trading_monitor.position_monitor.trailing import trail_stops

log = logging.getLogger(__name__)


@dataclass
class PositionReport:
    status: str = "PASS"
    failing: list[Issue] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    positions: int = 0
    broker_requests: int = 0
    equity: Decimal | None = None  # the account's, as read this run (the cockpit's curve)

    @property
    def summary(self) -> dict[str, object]:
        return {"reconciliation": self.status, "failing": len(self.failing),
                "positions": self.positions, "actions": len(self.actions),
                "broker_requests": self.broker_requests,
                "equity": None if self.equity is None else str(self.equity)}


def run_position_cycle(pm: PositionMonitor) -> PositionReport:
    m = pm.orders
    report = PositionReport()
    start = m.broker.requests_sent
    sync = sync_orders(m)
    every = m.broker.get_positions(include_unmanaged=True)
    positions = [p for p in every if p.managed]
    account = m.broker.get_account()  # read before reconciling: it may contradict positions
    report.positions, report.equity = len(positions), account.equity
    fault = contradiction(pm, every, account, sync.open_orders)
    if fault is None:
        fault_cleared(pm)
        # A trade whose entry and exit both filled since the last run is opened first: a
        # split between them restates its entry's old shares before its exit is settled.
        open_filled_entries(m, open_trades(m))
        events = corporate_step(pm, positions, sync.open_orders)  # splits, new symbols
        # An exit the sync booked (a stop, a target, an emergency exit) closes its trade
        # now, with its P&L: the books never hold shares the broker no longer has. After
        # the splits: a target that filled at the open in new shares closes only its part
        # of a trade whose old shares the split restated (the rest is protected).
        booked = settle_booked_exits(m, open_trades(m))
        failing, done = reconcile_books(pm, open_trades(m), positions, sync.open_orders)
        done = booked + events + done
    else:
        booked = settle_booked_exits(m, open_trades(m))
        failing, done = _broker_fault(pm, fault)
        done = booked + done
    report.failing, report.actions = failing, done
    # Reported, never touched: a class we do not trade (a treasury, a class Alpaca adds).
    report.actions += [f"left alone: {p.qty} {p.symbol} of asset class {p.asset_class!r}, "
                       "which trading-monitor does not trade" for p in every if not p.managed]
    if not m.dry_run:  # after reconciliation, which closes trades gross: net them now
        report.actions += book_fees(m.ledger, m.broker)
    # An open incident fails every cycle until it ends; a broker fault within its grace
    # changes nothing (not even a halt another issue set).
    report.status = "FAIL" if failing or open_incident(m.db) else "PASS"
    if fault is not None and not failing:
        report.status = _previous_status(pm)
    trades = open_trades(m)
    symbols = {t.journal["symbol"] for t in trades if t.state.status.value == "POSITION"}
    market = m.broker.market_snapshots(symbols, pm.config.data_feed) if symbols else {}
    now = m.now()
    day = now.astimezone(NEW_YORK).date()
    close = session_close(m, day)
    reference = min(now, close) if close else now
    report.actions += mark_positions(pm, trades, market, reference - pm.config.max_price_age)
    report.actions += resting_stops(pm, open_trades(m), sync.open_orders, market)  # issue 21
    report.actions += watch_halts(pm, open_trades(m), market, now, close)  # issue 21
    report.actions += trail_stops(pm, open_trades(m), sync.open_orders)
    report.actions += profit_targets(pm, open_trades(m), market)
    # The market exits just sent (a resting stop's, an approved target's) fill at once and
    # were followed to their fill: their trades close in this run, as the sync's did above.
    report.actions += settle_booked_exits(m, open_trades(m))
    if not m.dry_run:
        report.actions += _halts_and_snapshots(pm, report, account, positions, sync, day, close)
    if not m.dry_run:  # exits that do not fill: an ALERT once each (issue 21)
        report.actions += alert_overdue(m.db, m.run_id, m.now(), pm.config.exit_working_alert)
    report.actions += m.planned
    report.broker_requests = m.broker.requests_sent - start
    return report


def _previous_status(pm: PositionMonitor) -> str:
    rows = pm.orders.db.named("system_value", {"key": "reconciliation_status"})
    return str(rows[0]["value"]) if rows and rows[0]["value"] else "PASS"


def _broker_fault(pm: PositionMonitor, fault: str) -> tuple[list[Issue], list[str]]:
    """An empty positions answer the account or our live stops contradict: this cycle's
    reconciliation is skipped (nothing booked, no issue cleared); past the grace, an
    incident holding every open position of ours."""
    now = pm.orders.now()
    log.warning("reconciliation skipped: %s (a broker fault)", fault)
    since = fault_since(pm, fault, now)
    if now - since < pm.config.reconcile_grace:
        return [], [f"reconciliation skipped: {fault}"]
    held = [t for t in open_trades(pm.orders)
            if t.state.entry_filled[0] - t.state.exit_filled[0] != 0]
    gone = [Issue(IssueKind.GONE_AT_BROKER, t.journal["symbol"], t.state.journal_id,
                  {"cause": fault}) for t in held]
    if not pm.orders.dry_run:
        raise_incident(pm, fault, [(i.journal_id or 0, i.symbol) for i in gone], now)
    return gone, [f"reconciliation skipped: {fault}"]


def _halts_and_snapshots(pm: PositionMonitor, report: PositionReport, account: BrokerAccount,
                         positions: list[BrokerPosition], sync: SyncResult, day: date,
                         close: datetime | None) -> list[str]:
    m = pm.orders
    done = []
    previous = m.db.named("system_value", {"key": "reconciliation_status"})
    changed = not previous or previous[0]["value"] != report.status
    details = [{"kind": i.kind.value, "symbol": i.symbol, "trade": i.journal_id, **i.detail}
               for i in report.failing]
    if report.status == "FAIL":
        if set_halt(m.db, m.run_id, "halt_reconciliation", "on",
                    "reconciliation failed past its grace: " + "; ".join(
                        f"{d['kind']} {d['symbol']}" for d in details)):
            done.append("entries halted: reconciliation FAIL")
    elif clear_halt(m.db, m.run_id, "halt_reconciliation", "a later reconciliation passed"):
        done.append("entries resume: reconciliation PASS")
    orders = list(sync.open_orders.values())
    if changed:
        m.db.named_update("set_system_value", {"key": "reconciliation_status",
                                               "value": report.status, "reason": m.run_id})
        record_snapshot(m.db, m.run_id, "RECONCILIATION", day, account, positions, orders,
                        report.status, details)
    if not has_snapshot(m.db, "START", day):
        record_snapshot(m.db, m.run_id, "START", day, account, positions, orders)
    # Deposits and withdrawals today are neither a gain nor a loss (one request, and only
    # when a daily loss limit is set).
    flows = (net_cash_flow(m.broker.cash_flows(day)) if pm.config.max_daily_loss is not None
             else Decimal(0))
    done += check_loss_limits(m.db, m.run_id, day, account.equity,
                              loss_baseline(m.db, day, account, flows),
                              pm.config.max_daily_loss, pm.config.max_drawdown_pct)
    if close is not None and m.now() >= close and not has_snapshot(m.db, "END", day):
        record_snapshot(m.db, m.run_id, "END", day, account, positions, orders, report.status)
        done.append("END snapshot recorded")
    return done
