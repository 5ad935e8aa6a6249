"""Reconciliation with the broker, every cycle: what `domain.reconcile` finds, acted on.

Alpaca's positions can lag its orders for seconds, so a disagreement that the fills do not
explain is acted on (or counted as a failure) only once it has lasted past its grace. Each
open disagreement is a `reconciliation_issue` row, resolved when it clears.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from trading_monitor.broker.models import BrokerOrder, BrokerPosition
from trading_monitor.crashpoints import crash_point
from trading_monitor.db.pg import Json
from trading_monitor.db.queries import Queries
from trading_monitor.domain.lifecycle import ExitReason, OrderRole, TradeStatus
from trading_monitor.domain.pnl import closed_pnl
from trading_monitor.domain.reconcile import (
    HeldPosition,
    Issue,
    IssueKind,
    OpenOrder,
    OurTrade,
    reconcile,
)
from trading_monitor.domain.sides import Side
from trading_monitor.domain.ticks import price_text
from trading_monitor.engine.market_stop import market_stop
from trading_monitor.engine.settle import settle_trade
from trading_monitor.engine.state import LoadedTrade, load_trades
from trading_monitor.engine.untracked import own_fill_since
from trading_monitor.ledger.alerts import alert
from trading_monitor.position_monitor.context import PositionMonitor
from trading_monitor.position_monitor.corporate_ending import ending_price
from trading_monitor.position_monitor.hand_closes import (
    attach,
    book_partial_close,
    close_flipped,
    closing_fills,
)
from trading_monitor.position_monitor.incident import (
    end_incident,
    history_readable,
    is_mass,
    open_incident,
    raise_incident,
)

log = logging.getLogger(__name__)
QUERIES = Queries(__name__)  # queries.sql beside this module


def reconcile_books(pm: PositionMonitor, trades: list[LoadedTrade],
                    positions: list[BrokerPosition], orders: dict[str, BrokerOrder]
                    ) -> tuple[list[Issue], list[str]]:
    """Returns the issues still failing after their grace, and what was done."""
    found = reconcile([HeldPosition(p.symbol, p.qty, p.avg_entry_price) for p in positions],
                      _open_orders(orders), [_ours(t) for t in trades],
                      pm.orders.installation)
    crash_point("in_reconciliation")
    now = pm.orders.now()
    failing, done = [], []
    by_id = {t.state.journal_id: t for t in trades}
    held = {p.symbol: p for p in positions}
    waiting = _incident(pm, found, by_id, now)
    for issue in found:
        first_seen = _track(pm, issue, now)
        overdue = now - first_seen >= pm.config.reconcile_grace
        result = None if issue.journal_id in waiting else _act(
            pm, issue, by_id.get(issue.journal_id or 0), held.get(issue.symbol), overdue,
            orders)
        if result:
            done.append(result)
        elif overdue and issue.kind is not IssueKind.SHARED_ACCOUNT:
            failing.append(issue)
    _resolve_cleared(pm, {i.key for i in found}, now)
    return failing, done


def _incident(pm: PositionMonitor, found: list[Issue], by_id: dict[int, LoadedTrade],
              now: datetime) -> set[int]:
    """The trades gone without a fill that must wait: all of them during an incident (see
    incident.py), which this opens, widens or ends."""
    unexplained = [i for i in found if i.kind is IssueKind.GONE_AT_BROKER
                   and i.journal_id in by_id
                   and closing_fills(pm, by_id[i.journal_id], _held_qty(by_id[i.journal_id]))
                   is None]
    positions = sum(1 for t in by_id.values() if _held_qty(t) != 0)
    mass = is_mass(len(unexplained), positions, pm.config.incident_trades,
                   pm.config.incident_pct)
    incident = open_incident(pm.orders.db)
    overdue = [i for i in unexplained
               if now - _track(pm, i, now) >= pm.config.reconcile_grace]
    if pm.orders.dry_run:
        pass
    elif mass and overdue:
        raise_incident(pm, f"{len(unexplained)} of our {positions} open positions gone at the "
                           "broker at once, with no fill to explain them", [
                               (int(i.journal_id or 0), i.symbol) for i in unexplained], now)
        incident = open_incident(pm.orders.db)
    elif incident is not None and not unexplained:
        end_incident(pm.orders.db, pm.orders.run_id, "the broker shows the positions again, "
                                                     "or they were closed")
        incident = None
    if mass or incident is not None:
        return {int(i.journal_id or 0) for i in unexplained}
    return set()


def _held_qty(trade: LoadedTrade) -> Decimal:
    return trade.state.entry_filled[0] - trade.state.exit_filled[0]


def _act(pm: PositionMonitor, issue: Issue, trade: LoadedTrade | None,
         held: BrokerPosition | None, overdue: bool,
         orders: dict[str, BrokerOrder]) -> str | None:
    if pm.orders.dry_run:
        pm.orders.would(f"handle {issue.kind.value} {issue.symbol} {issue.detail}")
        return None
    if issue.kind is IssueKind.GONE_AT_BROKER and trade is not None:
        return _close_gone(pm, trade, overdue, orders)
    if issue.kind is IssueKind.QTY_MISMATCH and trade is not None:
        flipped = close_flipped(pm, trade, issue.detail)
        if flipped is not None:  # the rest is the trader's own, past the grace: adopted now
            return flipped + (f"; {_adopt(pm, held)}" if held is not None else "")
        return book_partial_close(pm, trade, issue.detail)
    if issue.kind is IssueKind.UNPROTECTED and trade is not None:
        return _protect(pm, trade)
    if issue.kind is IssueKind.UNTRACKED and held is not None and overdue \
            and not own_fill_since(pm.orders.db, issue.symbol,
                                   pm.orders.now() - pm.config.reconcile_grace):
        return _adopt(pm, held)  # (a fill of ours that young: the positions may lag it)
    if issue.kind is IssueKind.SHARED_ACCOUNT:
        log.warning("shared account: orders of other installations %s are live; untracked "
                    "positions are reported, never protected or closed", issue.detail)
    return None


def _close_gone(pm: PositionMonitor, trade: LoadedTrade, overdue: bool,
                orders: dict[str, BrokerOrder]) -> str | None:
    """The broker holds none of a position we track: find the fill that closed it. With
    none, it is closed at the last known price only when the broker's answers are sound:
    the account read this cycle (before reconciling), the fill feed read (the sync), and
    every order of the trade known to the broker; else it waits (and fails past the grace)."""
    j, t = trade.journal, trade.state
    qty, avg = t.entry_filled[0] - t.exit_filled[0], t.entry_filled[1]
    if not overdue:
        return None  # positions can lag orders: even a fill must outlast the grace
    fill = closing_fills(pm, trade, qty)
    assert avg is not None
    ended = ending_price(pm, trade) if fill is None else None  # a merger, a removal
    if fill is not None:
        price, at, reason, estimated = fill.price, fill.filled_at, ExitReason.MANUAL, False
    elif ended is not None:
        price, at, reason, estimated = ended.price, ended.at, ExitReason.EXTERNAL, False
    else:
        marks = pm.orders.db.query("position_tracking", {"trade_journal_id": t.journal_id})
        price = (marks[0]["current_price"] if marks else None) or avg
        at, reason, estimated = pm.orders.now(), ExitReason.EXTERNAL, True
        unread = history_readable(pm, trade, orders)
        if unread is not None:
            log.warning("trade #%s %s gone at the broker with no fill, but %s: it waits",
                        t.journal_id, j["symbol"], unread)
            return None
    exits = [(f.qty, f.price) for f in t.fills if f.role is not OrderRole.ENTRY]
    pnl = closed_pnl(t.side, avg, [*exits, (qty, price)])  # the rest at its fill or last mark
    if fill is not None:
        attach(pm, trade, fill)
    pm.orders.ledger.close_trade(
        t.journal_id, exit_price=price, exit_at=at, pnl=pnl, fees=Decimal(0), reason=reason,
        text=f"{reason.value}: gone at the broker"
             + (f": {ended.text}" if ended is not None else
                " (closed by hand, per its fill)" if not estimated else
                "; no fill found, closed at the last known price"), estimated=estimated)
    log.warning("trade #%s %s closed outside our orders (%s @ %s)", t.journal_id, j["symbol"],
                reason.value, price_text(price))
    return f"trade #{t.journal_id} {j['symbol']}: CLOSED {reason.value} @ {price_text(price)}" + (
        " (estimated)" if estimated else "")


def _protect(pm: PositionMonitor, trade: LoadedTrade) -> str | None:
    """No live stop at the broker for the full quantity: the order monitor's protection
    (a live stop stays and the shares it leaves get their own; a lone take-profit holding
    shares is cancelled first, on the broker's final word)."""
    fresh = load_trades(pm.orders.db, [trade.state.journal_id])
    if fresh and fresh[0].state.status is not TradeStatus.POSITION:  # closed this cycle
        return f"trade #{trade.state.journal_id}: {fresh[0].state.status.value}, no stop needed"
    done = settle_trade(pm.orders, fresh[0]) if fresh else []
    alert(log, "unprotected", f"trade #{trade.state.journal_id}",
          "trade #%s %s had no live stop for its full quantity: %s",
          trade.state.journal_id, trade.journal["symbol"], "; ".join(done) or "no action")
    return "; ".join(done) or None


def _adopt(pm: PositionMonitor, p: BrokerPosition) -> str:
    """A position no trade explains: recorded as EXTERNAL, alerted, protected as set."""
    jid = pm.orders.ledger.adopt_external_position(
        p.symbol, p.qty, p.avg_entry_price, "found at the broker; no trade of ours holds it")
    alert(log, "untracked_position", p.symbol,
          "untracked position %s %s adopted as EXTERNAL trade #%s", p.qty, p.symbol, jid)
    if pm.config.external_protection != "stop":
        return f"adopted untracked {p.qty} {p.symbol} as trade #{jid} (alert only)"
    stop = market_stop(pm.orders, p.symbol, long=p.qty > 0)
    if stop is None:
        alert(log, "unprotected", f"trade #{jid}",
              "untracked position %s %s (trade #%s): no current price to set its stop from; "
              "left alone, UNPROTECTED", p.qty, p.symbol, jid)
        return f"adopted untracked {p.qty} {p.symbol} as trade #{jid}: NO STOP (no price)"
    pm.orders.ledger.set_planned_stop(jid, stop, "adopted: EMERGENCY_STOP_PCT beyond the market")
    [trade] = load_trades(pm.orders.db, [jid])
    done = settle_trade(pm.orders, trade)
    return f"adopted untracked {p.qty} {p.symbol} as trade #{jid}: " + "; ".join(done)


def _track(pm: PositionMonitor, issue: Issue, now: datetime) -> datetime:
    rows = pm.orders.db.execute_query(QUERIES["issue_first_seen"], [issue.key])
    if rows:
        return rows[0]["first_seen_at"]
    if not pm.orders.dry_run:
        pm.orders.db.insert("reconciliation_issue", {
            "run_id": pm.orders.run_id, "issue_key": issue.key, "kind": issue.kind.value,
            "symbol": issue.symbol, "trade_journal_id": issue.journal_id,
            "detail": Json(issue.detail), "first_seen_at": now})
    return now


def _resolve_cleared(pm: PositionMonitor, keys: set[str], now: datetime) -> None:
    if pm.orders.dry_run:
        return
    pm.orders.db.execute_update(QUERIES["resolve_cleared_issues"],
                                [now, pm.orders.run_id, list(keys)])


def _ours(t: LoadedTrade) -> OurTrade:
    s = t.state
    qty = s.entry_filled[0] - s.exit_filled[0]
    signed = Side.of(s.side).signed(qty)
    partial = (s.entry_working and s.protection_mode == "bracket" and qty > 0
               and s.entry is not None and any(o.parent_row_id == s.entry.row_id
                                               for o in s.exits))
    return OurTrade(s.journal_id, t.journal["symbol"], signed, s.status.value,
                    entry_working=s.entry_working, bracket_partial=partial)


def _open_orders(orders: dict[str, BrokerOrder]) -> list[OpenOrder]:
    """Every open order, legs included; a leg of an entry that is not complete is held."""
    views = []
    parents = {leg.id: o for o in orders.values() for leg in o.legs}
    for o in orders.values():
        parent = parents.get(o.id)
        # A bracket's parent is its entry (the other side): its legs wait for a complete
        # fill. An OCO's parent is an exit like its leg: both are live.
        complete = parent is None or parent.side == o.side or parent.status == "filled"
        views.append(OpenOrder(o.symbol, o.side, o.order_type, o.qty, o.filled_qty, o.status,
                               o.client_order_id, parent_filled=complete))
    return views
