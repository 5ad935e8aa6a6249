"""Carry out what `decide` says for one trade: ledger writes and broker orders.

Every order goes out as an intent committed first (client order id from our rows), and is
looked up before it would ever be sent again. Cancels act on the broker's final word only:
one that is not final stops the trade's actions here, to be looked at again next cycle.
"""

from __future__ import annotations

import logging

from trading_monitor.crashpoints import crash_point
from trading_monitor.domain.lifecycle import PENDING_SUBMIT, OrderRole
from trading_monitor.domain.ticks import price_text
from trading_monitor.domain.trade_state import (
    Action,
    CancelOrders,
    ClosePosition,
    EndEntry,
    MarkProtected,
    OpenPosition,
    PlaceProtection,
    ResizePosition,
    WithdrawEntryRest,
    decide,
)
from trading_monitor.engine.context import Monitor
from trading_monitor.engine.corporate_hold import split_pending
from trading_monitor.engine.entry_rest import withdraw_entry_rest
from trading_monitor.engine.hand_cancel import held_until
from trading_monitor.engine.market_stop import price_missing_stop
from trading_monitor.engine.protect import (
    broker_held,
    cancel_orders,
    place_protection,
    submit,
)
from trading_monitor.engine.state import LoadedTrade, load_trades
from trading_monitor.exceptions import DatabaseUnavailable, FatalError

# What the other jobs (the flatten, the kill switch) use from here.
__all__ = ["_submit", "broker_held", "cancel_orders", "describe", "place_protection",
           "settle_booked_exits", "settle_trade"]
_submit = submit
log = logging.getLogger(__name__)
MAX_PASSES = 3


def settle_trade(m: Monitor, trade: LoadedTrade) -> list[str]:
    """Apply the trade's actions in order; returns what was done (or would be).

    After an action that changes what the broker holds (a cancel, a new position) the
    trade is read again and decided again, so one cycle goes as far as it can.
    """
    if _resume_unsent(m, trade):
        [trade] = load_trades(m.db, [trade.state.journal_id])
    trade = price_missing_stop(m, trade)  # adopted with no fresh price: priced once one is
    done: list[str] = []
    for _ in range(MAX_PASSES):
        again = False
        for action in decide(trade.state, m.now(), m.config.rules):
            text = describe(trade, action)
            until = held_until(m.db, trade.state.journal_id, m.now()) if isinstance(
                action, PlaceProtection) else None
            if until is not None:  # its stop was cancelled by hand (hand_cancel.py)
                done.append(f"{text}: held off until {until:%H:%M:%S} UTC, its stop was "
                            "cancelled at the broker by hand")
                continue
            split = split_pending(m, trade) if isinstance(
                action, (ClosePosition, ResizePosition)) else None
            if split is not None:  # its exit is in new shares, its entry in old ones
                done.append(f"{text}: held back until the position monitor applies "
                            f"{split} to it")
                return done
            if m.dry_run:
                m.would(text)
                continue
            if not _apply(m, trade, action):
                done.append(f"{text}: waiting for the broker's final word")
                return done
            done.append(text)
            if isinstance(action, (OpenPosition, CancelOrders, WithdrawEntryRest)):
                [trade] = load_trades(m.db, [trade.state.journal_id])
                again = isinstance(action, WithdrawEntryRest)
        if not again or m.dry_run:
            return done
    return done


def settle_booked_exits(m: Monitor, trades: list[LoadedTrade]) -> list[str]:
    """Trades whose exit fill this run booked (the end-of-day flatten's or an emergency
    market exit, which fill at once; a stop or target the position monitor's sync saw): the
    position is closed, or resized, in the same run on that final word, not left holding
    the shares until the next order-monitor cycle."""
    done: list[str] = []
    for trade in trades:
        if m.dry_run or not any(isinstance(a, (ClosePosition, ResizePosition))
                                for a in decide(trade.state, m.now(), m.config.rules)):
            continue
        try:
            done += settle_trade(m, trade)
        except (FatalError, DatabaseUnavailable):
            raise
        except Exception:  # one trade's failure is logged; the next cycle settles it
            log.exception("trade #%s: its booked exit could not be settled",
                          trade.state.journal_id)
    return done


def open_filled_entries(m: Monitor, trades: list[LoadedTrade]) -> None:
    """Open each trade whose entry filled, and nothing else (the position monitor does it
    before a split restates the entry's old shares, then settles the exits)."""
    if m.dry_run:
        return
    for trade in trades:
        for action in decide(trade.state, m.now(), m.config.rules):
            if isinstance(action, OpenPosition):
                _open(m, trade.state.journal_id, action)


def _open(m: Monitor, jid: int, action: OpenPosition) -> None:
    m.ledger.open_position(jid, action.qty, action.avg_price, action.first_fill_at,
                           action.slippage_bps)
    # Whichever job books the fill first (the order monitor, or the position monitor's
    # opening before a split is applied) may die here, before any protection.
    crash_point("after_fill_seen")


def _apply(m: Monitor, trade: LoadedTrade, action: Action) -> bool:
    jid = trade.state.journal_id
    if isinstance(action, OpenPosition):
        _open(m, jid, action)
    elif isinstance(action, ResizePosition):
        m.ledger.resize_position(jid, action.qty, action.avg_price)
    elif isinstance(action, EndEntry):
        m.ledger.set_trade_status(jid, action.status, action.reason)
    elif isinstance(action, ClosePosition):
        crash_point("in_exit")
        m.ledger.close_trade(jid, exit_price=action.exit_price, exit_at=action.exit_at,
                             pnl=action.pnl, fees=action.fees, reason=action.reason,
                             text=f"{action.reason.value}: exit @ "
                                  f"{price_text(action.exit_price)}, "
                                  f"P&L {action.pnl:.2f}",
                             requested_exit_price=action.requested_exit_price,
                             slippage_bps=action.slippage_bps)
    elif isinstance(action, CancelOrders):
        return cancel_orders(m, [trade.order_row(o.row_id) for o in action.orders
                                 if o.parent_row_id is None or not _parent_listed(action, o)])
    elif isinstance(action, WithdrawEntryRest):
        return withdraw_entry_rest(m, trade)  # R8: final word, or an OCO meanwhile
    elif isinstance(action, PlaceProtection):
        if place_protection(m, trade.journal, action, covered=trade.state.covered_qty()) \
                and trade.journal["protected_at"] is None:
            m.ledger.mark_protected(jid, m.now())
    elif isinstance(action, MarkProtected):
        m.ledger.mark_protected(jid, m.now())
    return True


def _parent_listed(action: CancelOrders, leg: object) -> bool:
    # Cancelling an OCO's or bracket's parent cancels its legs: one DELETE for the group.
    parent = getattr(leg, "parent_row_id", None)
    return any(o.row_id == parent for o in action.orders)


def _resume_unsent(m: Monitor, trade: LoadedTrade) -> bool:
    """Protective or exit intents an earlier run wrote but may not have sent."""
    # A PATCH's intent (replaces_order_execution_id) is never submitted as a new order: the
    # position monitor settles it by looking it up.
    heads = [r for r in trade.orders if r["order_status"] == PENDING_SUBMIT
             and r["order_role"] != OrderRole.ENTRY.value
             and r["parent_order_execution_id"] is None
             and r["replaces_order_execution_id"] is None]
    if m.dry_run:
        for r in heads:
            m.would(f"settle {r['client_order_id']} by looking it up")
        return False
    for head in heads:
        legs = [r for r in trade.orders if r["parent_order_execution_id"] == head["id"]]
        submit(m, trade.journal, [head, *legs])
    return bool(heads)


def describe(trade: LoadedTrade, action: Action) -> str:
    t = f"trade #{trade.state.journal_id} {trade.journal['symbol']}"
    if isinstance(action, OpenPosition):
        return f"{t}: position of {action.qty} @ {price_text(action.avg_price)}"
    if isinstance(action, ResizePosition):
        return f"{t}: holds {action.qty} @ {price_text(action.avg_price)}"
    if isinstance(action, EndEntry):
        return f"{t}: {action.status.value} ({action.reason})"
    if isinstance(action, ClosePosition):
        return (f"{t}: CLOSED {action.reason.value} @ {price_text(action.exit_price)}, "
                f"P&L {action.pnl:.2f}")
    if isinstance(action, CancelOrders):
        names = ", ".join(o.client_order_id for o in action.orders)
        return f"{t}: cancel {names} ({action.why})"
    if isinstance(action, WithdrawEntryRest):
        return f"{t}: cancel the unfilled rest of the entry ({action.why})"
    if isinstance(action, PlaceProtection):
        stop, target = price_text(action.stop_price), price_text(action.take_profit)
        kind = f"oco stop {stop} / target {target}" if \
            action.take_profit is not None else f"stop {stop}"
        return f"{t}: protect {action.qty} with {kind}, {action.time_in_force}"
    return f"{t}: protected"
