"""Profit targets without an order (seed 000): a position at its target with no take-profit
order (a staged DAYTRADE, an external position) is recorded for the report; once the trader
approves the exit (the `exit_approved` column in NocoDB, or `trading-monitor approve-exit
TRADE_ID`), the next cycle closes it at market, after cancelling its protection."""

from __future__ import annotations

from trading_monitor.domain.lifecycle import OrderRole, Purpose
from trading_monitor.domain.market import MarketSnapshot
from trading_monitor.domain.order_status import OrderStatus
from trading_monitor.domain.sides import Side
from trading_monitor.engine.housekeeping import flatten_trade
from trading_monitor.engine.state import LoadedTrade
from trading_monitor.position_monitor.context import PositionMonitor


def profit_targets(pm: PositionMonitor, trades: list[LoadedTrade],
                   market: dict[str, MarketSnapshot]) -> list[str]:
    done = []
    for trade in trades:
        t, j = trade.state, trade.journal
        marks = [trade.position] if trade.position else []
        if t.status.value != "POSITION" or not marks:
            continue
        if marks[0]["exit_approved"]:
            done += flatten_trade(pm.orders, trade, Purpose.TARGET_HIT)
            continue
        take = j["planned_take_profit"]
        snap = market.get(j["symbol"])
        if take is None or snap is None or snap.last_price is None or _has_target_order(trade):
            continue
        reached = Side.of(t.side).reached(snap.last_price, take)
        if reached and marks[0]["target_reached_at"] is None:
            if pm.orders.dry_run:
                pm.orders.would(f"record trade #{t.journal_id} at its target {take}")
                continue
            pm.orders.ledger.record_target_reached(t.journal_id, pm.orders.now())
            done.append(f"trade #{t.journal_id} {j['symbol']} reached its target {take}: "
                        f"approve the exit to close it (trading-monitor approve-exit "
                        f"{t.journal_id})")
    return done


def _has_target_order(trade: LoadedTrade) -> bool:
    # Any target that may still fill (our unsent intent too): never a second one.
    return any(r["order_role"] == OrderRole.TAKE_PROFIT.value
               and OrderStatus(r["order_status"]).may_fill for r in trade.orders)
