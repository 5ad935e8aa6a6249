"""Carry out what `decide` says for one trade: ledger writes and broker orders.

Every order goes out as an intent committed first (client order id from our rows), and is
looked up before it would ever be sent again. Cancels act on the broker's final word only:
one that is not final stops the trade's actions here, to be looked at again next cycle.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from trading_monitor.broker.models import BrokerOrder, OrderRequest
from trading_monitor.cancelling import cancel_until_final, follow_replacements
from trading_monitor.crashpoints import crash_point
from trading_monitor.db_layer import Row
from trading_monitor.domain.lifecycle import PENDING_SUBMIT, OrderRole, Purpose
from trading_monitor.domain.order_status import OrderStatus
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
from trading_monitor.exceptions import RejectedError, TemporaryError
from trading_monitor.order_monitor.context import Monitor
from trading_monitor.order_monitor.state import LoadedTrade, load_trades

log = logging.getLogger(__name__)
MAX_PASSES = 3


def settle_trade(m: Monitor, trade: LoadedTrade) -> list[str]:
    """Apply the trade's actions in order; returns what was done (or would be).

    After an action that changes what the broker holds (a cancel, a new position) the
    trade is read again and decided again, so one cycle goes as far as it can.
    """
    if _resume_unsent(m, trade):
        [trade] = load_trades(m.db, [trade.state.journal_id])
    done: list[str] = []
    for _ in range(MAX_PASSES):
        again = False
        for action in decide(trade.state, m.now(), m.config.rules):
            text = describe(trade, action)
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


def _apply(m: Monitor, trade: LoadedTrade, action: Action) -> bool:
    jid = trade.state.journal_id
    if isinstance(action, OpenPosition):
        m.ledger.open_position(jid, action.qty, action.avg_price, action.first_fill_at,
                               action.slippage_bps)
        crash_point("after_fill_seen")
    elif isinstance(action, ResizePosition):
        m.ledger.resize_position(jid, action.qty, action.avg_price)
    elif isinstance(action, EndEntry):
        m.ledger.set_trade_status(jid, action.status, action.reason)
    elif isinstance(action, ClosePosition):
        crash_point("in_exit")
        m.ledger.close_trade(jid, exit_price=action.exit_price, exit_at=action.exit_at,
                             pnl=action.pnl, fees=action.fees, reason=action.reason,
                             text=f"{action.reason.value}: exit @ {action.exit_price}, "
                                  f"P&L {action.pnl:.2f}",
                             requested_exit_price=action.requested_exit_price,
                             slippage_bps=action.slippage_bps)
    elif isinstance(action, CancelOrders):
        return cancel_orders(m, [trade.order_row(o.row_id) for o in action.orders
                                 if o.parent_row_id is None or not _parent_listed(action, o)])
    elif isinstance(action, WithdrawEntryRest):
        assert trade.state.entry is not None
        return cancel_orders(m, [trade.order_row(trade.state.entry.row_id)])
    elif isinstance(action, PlaceProtection):
        if place_protection(m, trade.journal, action) and trade.journal["protected_at"] is None:
            m.ledger.mark_protected(jid, m.now())
    elif isinstance(action, MarkProtected):
        m.ledger.mark_protected(jid, m.now())
    return True


def _parent_listed(action: CancelOrders, leg: object) -> bool:
    # Cancelling an OCO's or bracket's parent cancels its legs: one DELETE for the group.
    parent = getattr(leg, "parent_row_id", None)
    return any(o.row_id == parent for o in action.orders)


def cancel_orders(m: Monitor, rows: list[Row]) -> bool:
    """Cancel each and record the broker's final word; False if one is not final yet."""
    all_final = True
    for row in rows:
        order = m.broker.get_order(row["alpaca_order_id"]) if row["alpaca_order_id"] else None
        if order is None:
            continue
        done = cancel_until_final(m.broker, order, settle_seconds=m.config.cancel_settle_seconds,
                                  sleep=m.sleep)
        m.ledger.record_order(row, done.order)
        if not done.final:
            all_final = False
            log.warning("cancel of %s not final: %s %s", row["client_order_id"],
                        done.order.status, done.refused)
        elif done.order.filled_qty > row["filled_qty"]:
            # A fill raced the cancel: the position is not what the plan assumed. Stop here
            # and decide again on the books as they are now (next pass or next cycle).
            all_final = False
            log.warning("%s filled %s while being cancelled", row["client_order_id"],
                        done.order.filled_qty)
    return all_final


def broker_held(m: Monitor, journal: Row) -> Decimal:
    """Shares the broker really holds on this trade's side of its symbol.

    Every order that closes shares is capped by it: our books may not know yet that the
    trader closed the position by hand, and an exit for shares that are gone opens a new
    position the other way.
    """
    want_long = journal["side"] == "buy"
    if m.positions is None:  # one read per cycle, whatever the number of orders it places
        m.positions = m.broker.get_positions()
    for p in m.positions:
        if p.symbol == journal["symbol"] and (p.qty > 0) == want_long:
            return abs(p.qty)
    return Decimal(0)


def place_protection(m: Monitor, journal: Row, p: PlaceProtection) -> bool:
    """True when the broker accepted the protection for the whole position."""
    held = broker_held(m, journal)
    if held < p.qty:
        log.warning("trade #%s: the broker holds %s of the %s shares our books show; "
                    "protection waits for the books to catch up (reconciliation)",
                    journal["id"], held, p.qty)
        if held <= 0:
            return False
    rows = m.ledger.write_protection_intent(journal, m.installation, qty=min(p.qty, held),
                                            stop=p.stop_price, take=p.take_profit,
                                            tif=p.time_in_force)
    order = _submit(m, journal, rows)
    return order is not None and not OrderStatus(order.status).withdrawn


def _submit(m: Monitor, journal: Row, rows: list[Row]) -> BrokerOrder | None:
    """Send an intent (looked up first when it may have gone out before a crash)."""
    head = rows[0]
    try:
        order = follow_replacements(m.broker, m.broker.get_order_by_client_id(
            head["client_order_id"])) if head["order_status"] == PENDING_SUBMIT and \
            head["run_id"] != m.run_id else None
        if order is None:
            order = m.broker.submit_order(_request(head, rows[1:]))
            crash_point("after_stop_submit")
    except RejectedError as exc:
        m.ledger.mark_orders(rows, "rejected", str(exc))
        _emergency(m, journal, head, f"broker refused {head['client_order_id']}: {exc}")
        return None
    except TemporaryError as exc:
        m.ledger.note_order(head, str(exc))
        log.error("ALERT %s not placed yet (retried next cycle): %s", head["client_order_id"],
                  exc)
        return None
    m.ledger.record_order(head, order)
    if head["order_role"] == OrderRole.EXIT.value:
        m.positions = None  # what the broker holds has changed: read it again when needed
    return order


def _request(head: Row, legs: list[Row]) -> OrderRequest:
    stop_leg = next((r for r in legs if r["order_role"] == OrderRole.STOP_LOSS.value), None)
    return OrderRequest(
        client_order_id=head["client_order_id"], symbol=head["symbol"], side=head["side"],
        qty=head["qty"], order_type=head["order_type"], time_in_force=head["time_in_force"],
        limit_price=head["limit_price"] if head["order_class"] != "oco" else None,
        stop_price=head["stop_price"], order_class=head["order_class"],
        take_profit_limit=head["limit_price"] if head["order_class"] == "oco" else None,
        stop_loss_stop=stop_leg["stop_price"] if stop_leg else None)


def _emergency(m: Monitor, journal: Row, head: Row, why: str) -> None:
    """Protection could not be placed: flatten at market, or keep retrying every cycle."""
    if m.config.stop_failure_action != "flatten" or head["purpose"] != Purpose.PROTECTION.value:
        log.error("ALERT trade #%s unprotected, retried next cycle: %s", journal["id"], why)
        m.ledger.note_emergency(int(journal["id"]), f"retrying protection: {why}")
        return
    log.error("ALERT trade #%s could not be protected; flattening at market: %s",
              journal["id"], why)
    m.ledger.note_emergency(int(journal["id"]), f"flattened at market: {why}")
    [loaded] = load_trades(m.db, [int(journal["id"])])
    qty = min(loaded.state.position_qty, broker_held(m, journal))
    if qty > 0:
        exit_row = m.ledger.write_exit_intent(journal, m.installation, qty=qty,
                                              purpose=Purpose.EMERGENCY)
        _submit(m, journal, [exit_row])


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
        _submit(m, trade.journal, [head, *legs])
    return bool(heads)


def describe(trade: LoadedTrade, action: Action) -> str:
    t = f"trade #{trade.state.journal_id} {trade.journal['symbol']}"
    if isinstance(action, OpenPosition):
        return f"{t}: position of {action.qty} @ {action.avg_price}"
    if isinstance(action, ResizePosition):
        return f"{t}: holds {action.qty} @ {action.avg_price}"
    if isinstance(action, EndEntry):
        return f"{t}: {action.status.value} ({action.reason})"
    if isinstance(action, ClosePosition):
        return f"{t}: CLOSED {action.reason.value} @ {action.exit_price}, P&L {action.pnl:.2f}"
    if isinstance(action, CancelOrders):
        names = ", ".join(o.client_order_id for o in action.orders)
        return f"{t}: cancel {names} ({action.why})"
    if isinstance(action, WithdrawEntryRest):
        return f"{t}: cancel the unfilled rest of the entry ({action.why})"
    if isinstance(action, PlaceProtection):
        kind = f"oco stop {action.stop_price} / target {action.take_profit}" if \
            action.take_profit is not None else f"stop {action.stop_price}"
        return f"{t}: protect {action.qty} with {kind}, {action.time_in_force}"
    return f"{t}: protected"
