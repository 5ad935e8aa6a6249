"""Sending the order monitor's orders: protection, emergency exits, cancels.

Three rules, each from a defect the safety review found:

- **Positions lag fills** (R11). Within `reconcile_grace` of the trade's last fill its own
  fills prove the shares, and protection is sized by them; after that, or once anything else
  traded the symbol, protection is capped by what the broker holds. A market exit is always
  capped by it (a position closed by hand must not be sold again).
- **No order Alpaca's wash-trade rule refuses** (R8). Every order is checked against the
  table (domain/wash_trade.py) and our open orders on its symbol before it is sent. The
  trade's own working entry is withdrawn first, on the broker's final word; an order that
  would still conflict is not sent. A 403 that comes anyway is read by its message: a wash
  trade is not answered with a market exit (Alpaca refuses that too).
- **Protection is never taken away before its replacement is accepted.** The emergency exit
  cancels nothing: it closes only the shares no live stop covers.
"""

from __future__ import annotations

import logging
import re
from decimal import Decimal

from trading_monitor.broker.models import BrokerOrder, OrderRequest
from trading_monitor.crashpoints import crash_point
from trading_monitor.db.connection import Row
from trading_monitor.db.queries import Queries
from trading_monitor.domain.lifecycle import NOT_SENT, PENDING_SUBMIT, OrderRole, Purpose
from trading_monitor.domain.order_status import BROKER_MAY_FILL, OrderStatus
from trading_monitor.domain.trade_actions import PlaceProtection
from trading_monitor.domain.wash_trade import OrderShape, is_wash_refusal, refused_by
from trading_monitor.engine.cancelling import (
    POLL_SECONDS,
    cancel_until_final,
    follow_replacements,
    is_final,
)
from trading_monitor.engine.context import Monitor
from trading_monitor.engine.market_stop import wash_safe_protection
from trading_monitor.engine.state import load_trades
from trading_monitor.exceptions import RejectedError, TemporaryError

log = logging.getLogger(__name__)
QUERIES = Queries(__name__)  # queries.sql beside this module
ZERO = Decimal(0)
# Alpaca's held-shares refusal states what it has: "insufficient qty available for order
# (requested: 7, available: 0)" (/work/shared/alpaca/order-facts.md §4).
AVAILABLE = re.compile(r"insufficient qty available.*available: (\d+(?:\.\d+)?)")


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
    return ZERO


def closable(m: Monitor, journal: Row, ours: Decimal, covered: Decimal = ZERO) -> Decimal:
    """How many of the `ours` shares (per our fills) a protective order may cover now, when
    live stops already cover `covered` others (a top-up).

    The broker's positions lag a fill by seconds: within `reconcile_grace` of the trade's
    last fill its own fills prove the shares. Not when anything else traded the symbol
    since the trade's first fill (the trader closing some by hand, even before our own
    last fill, an exit): then only the broker knows, and it caps, once its positions can
    show that trade (none within `reconcile_grace` of it). Another trade of ours whose
    booked fills net to zero (its stop closing it in the same second) changed nothing.
    """
    last = _last_fills(m, journal)
    fresh = last["ours"] is not None and m.now() - last["ours"] < m.config.reconcile_grace
    if fresh and (last["others"] is None or last["others"] < last["first"]):
        return ours
    held = lag_safe(m, journal, broker_held(m, journal) - covered, ours, last)
    return max(ZERO, min(ours, held))


def lag_safe(m: Monitor, journal: Row, held: Decimal, ours: Decimal,
             last: Row | None = None) -> Decimal:
    """`held` (from the broker's positions), but no more than `ours` less what the trader's
    own fills since our first fill took off our side (and the rest his partly filled orders
    there still work), while a fill not ours is younger than `reconcile_grace`: the
    positions may not show it yet (the trader closing by hand), and an order sized on them
    would sell shares that are gone. Every closing order of ours is capped by it: a new stop
    (closable) and a flatten's or kill switch's exit."""
    last = last or _last_fills(m, journal)
    if last["others"] is None or m.now() - last["others"] >= m.config.reconcile_grace:
        return held
    return min(held, ours - _taken_by_hand(m, journal, last["first"]))


def _last_fills(m: Monitor, journal: Row) -> Row:
    return m.db.execute_query(QUERIES["last_fills_of_symbol"],
                              {"id": journal["id"], "symbol": journal["symbol"]})[0]


def _taken_by_hand(m: Monitor, journal: Row, since: object) -> Decimal:
    """Shares the trader's own fills (no trade of ours) took off our side since `since`, and
    the shares his partly filled orders on our exit side still work: those fill any second,
    or filled between our feed read and our order read, where neither read shows them."""
    if since is None:
        return ZERO
    rows = m.db.execute_query(QUERIES["hand_fills_net_since"],
                              {"symbol": journal["symbol"], "since": since})
    if not rows:
        return ZERO
    net = Decimal(rows[0]["net"] or 0)
    if journal["side"] == "buy":
        return max(ZERO, -net) + Decimal(rows[0]["working_sell"])
    return max(ZERO, net) + Decimal(rows[0]["working_buy"])


def place_protection(m: Monitor, journal: Row, p: PlaceProtection,
                     covered: Decimal = ZERO) -> bool:
    """True when the broker accepted the protection for the whole position (`p.qty` more
    shares than the `covered` that live stops already protect)."""
    qty = closable(m, journal, p.qty, covered)
    if qty < p.qty:
        log.warning("trade #%s: the broker holds %s of the %s shares our books show; "
                    "protection waits for the books to catch up (reconciliation)",
                    journal["id"], qty, p.qty)
        if qty <= 0:
            m.retry_soon.add(int(journal["id"]))
            return False
    rows = m.ledger.write_protection_intent(journal, m.installation, qty=qty,
                                            stop=p.stop_price, take=p.take_profit,
                                            tif=p.time_in_force)
    order = submit(m, journal, rows)
    return order is not None and not OrderStatus(order.status).withdrawn


def submit(m: Monitor, journal: Row, rows: list[Row]) -> BrokerOrder | None:
    """Send an intent (looked up first when it may have gone out before a crash)."""
    head = rows[0]
    try:
        order = follow_replacements(m.broker, m.broker.get_order_by_client_id(
            head["client_order_id"])) if head["order_status"] == PENDING_SUBMIT and \
            head["run_id"] != m.run_id else None
        if order is None:
            if not _clear_of_wash_trades(m, journal, head):
                return None
            order = m.broker.submit_order(_request(head, rows[1:]))
            crash_point("after_stop_submit")
    except RejectedError as exc:
        m.ledger.mark_orders(rows, "rejected", str(exc))
        _refused(m, journal, head, exc)
        return None
    except TemporaryError as exc:
        m.ledger.note_order(head, str(exc))
        m.retry_soon.add(int(journal["id"]))
        log.error("ALERT %s not placed yet (retried next cycle): %s", head["client_order_id"],
                  exc)
        return None
    m.ledger.record_order(head, order)
    if head["order_role"] == OrderRole.EXIT.value:
        m.positions = None  # what the broker holds has changed: read it again when needed
    return order


def _shape(row: Row) -> OrderShape:
    return OrderShape(row["side"], row["order_type"], row["order_class"], row["limit_price"],
                      row["client_order_id"])


def _clear_of_wash_trades(m: Monitor, journal: Row, head: Row) -> bool:
    """Whether `head` may go out under Alpaca's wash-trade rule. The trade's own working
    entry is withdrawn first (its filled shares are what we protect; its rest must wait);
    any other conflicting order of ours keeps `head` unsent, with an ALERT."""
    opened = m.db.execute_query(QUERIES["open_orders_on_symbol"],
                                [head["symbol"], sorted(BROKER_MAY_FILL)])
    conflicting = {c.name for c in refused_by(_shape(head), [_shape(r) for r in opened])}
    if not conflicting:
        return True
    own = [r for r in opened if r["client_order_id"] in conflicting
           and r["trade_journal_id"] == journal["id"] and r["order_role"] == OrderRole.ENTRY.value]
    if own and cancel_orders(m, own):
        conflicting -= {r["client_order_id"] for r in own}
    if not conflicting:
        return True
    why = (f"{head['client_order_id']} not sent: Alpaca would refuse it as a wash trade "
           f"while {', '.join(sorted(conflicting))} works on the other side")
    m.ledger.mark_orders([head], NOT_SENT, why)
    m.ledger.note_emergency(int(journal["id"]), f"retrying protection: {why}")
    m.retry_soon.add(int(journal["id"]))
    log.error("ALERT trade #%s: %s", journal["id"], why)
    return False


def _request(head: Row, legs: list[Row]) -> OrderRequest:
    stop_leg = next((r for r in legs if r["order_role"] == OrderRole.STOP_LOSS.value), None)
    return OrderRequest(
        client_order_id=head["client_order_id"], symbol=head["symbol"], side=head["side"],
        qty=head["qty"], order_type=head["order_type"], time_in_force=head["time_in_force"],
        limit_price=head["limit_price"] if head["order_class"] != "oco" else None,
        stop_price=head["stop_price"], order_class=head["order_class"],
        take_profit_limit=head["limit_price"] if head["order_class"] == "oco" else None,
        stop_loss_stop=stop_leg["stop_price"] if stop_leg else None)


def _refused(m: Monitor, journal: Row, head: Row, exc: RejectedError) -> None:
    why = f"broker refused {head['client_order_id']}: {exc}"
    # Code 40310000 means both a wash trade and shares held by another order: only the
    # message tells. A wash trade is not answered with a market exit (refused the same way).
    if is_wash_refusal(str(exc)):
        jid = int(journal["id"])
        log.error("ALERT trade #%s: %s; retried once the opposite or holding order is gone",
                  jid, why)
        m.ledger.note_emergency(jid, f"retrying protection: {why}")
        m.retry_soon.add(jid)
        # The exit the failed protection called for is refused too: never nothing at all.
        plan = wash_safe_protection(m, journal) if head["purpose"] == \
            Purpose.EMERGENCY.value and jid not in m.wash_safe_tried else None
        if plan is not None:
            m.wash_safe_tried.add(jid)
            place_protection(m, journal, plan)
        return
    held = AVAILABLE.search(str(exc))
    _emergency(m, journal, head, why, available=Decimal(held.group(1)) if held else None)


def _emergency(m: Monitor, journal: Row, head: Row, why: str,
               available: Decimal | None = None) -> None:
    """Protection could not be placed: flatten at market, or keep retrying every cycle."""
    if m.config.stop_failure_action != "flatten" or head["purpose"] != Purpose.PROTECTION.value:
        log.error("ALERT trade #%s unprotected, retried next cycle: %s", journal["id"], why)
        m.ledger.note_emergency(int(journal["id"]), f"retrying protection: {why}")
        return
    log.error("ALERT trade #%s could not be protected; flattening at market: %s",
              journal["id"], why)
    m.ledger.note_emergency(int(journal["id"]), f"flattened at market: {why}")
    [loaded] = load_trades(m.db, [int(journal["id"])])
    # Nothing is cancelled for the exit: shares a live stop covers stay covered by it. A
    # market exit is capped by what the broker holds, always: one for shares that are gone
    # opens a position the other way at once. The positions may lag (a close by hand a
    # second ago); a held-shares refusal is the broker's word now: it caps too.
    uncovered = loaded.state.position_qty - loaded.state.covered_qty()
    qty = min(uncovered, broker_held(m, journal)) if uncovered > 0 else ZERO
    if available is not None and available < qty:
        log.error("ALERT trade #%s: the broker has %s of its shares available, not %s (the "
                  "rest are held for other open orders, the trader's own included, or are "
                  "closed): the exit is capped; no stop can cover shares an open order holds",
                  journal["id"], available, qty)
        qty = available
    if qty > 0:
        exit_row = m.ledger.write_exit_intent(journal, m.installation, qty=qty,
                                              purpose=Purpose.EMERGENCY)
        if submit(m, journal, [exit_row]) is not None:
            # It fills in milliseconds in the session: follow it to its fill, so the run
            # books it and closes the trade (settle.settle_booked_exits), not a later one.
            follow_exit(m, exit_row)


def follow_exit(m: Monitor, row: Row) -> BrokerOrder | None:
    """A market exit as the broker has it once filled, or after `CANCEL_SETTLE_SECONDS`
    (a market order in the session fills in milliseconds); its fill is booked."""
    fresh = m.db.get_by_id("order_execution", row["id"]) or row
    waited = 0.0
    while True:
        order = m.broker.get_order(fresh["alpaca_order_id"]) if fresh["alpaca_order_id"] \
            else None
        if order is None or is_final(order) or waited >= m.config.cancel_settle_seconds:
            if order is not None:
                m.ledger.record_order(fresh, order)
                m.positions = None  # what the broker holds has changed
            return order
        m.sleep(POLL_SECONDS)
        waited += POLL_SECONDS
