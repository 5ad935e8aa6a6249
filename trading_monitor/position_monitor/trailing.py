"""Staircase trailing stops at the broker: each step replaces the live stop with a tighter
one (PATCH, with a new client order id from the sequence), and records the step.

The replacement is written as an intent first, like every order. A failed replace leaves
the old stop live and is tried again next cycle: the position is never without a stop.

A step counts only on the broker's word (R14): it is recorded when the replacement is
answered live (`new`, `held`), else at a later cycle that finds it live; and the step the
stop is judged against is the one the broker's live stop (as the open orders list it)
really stands at, so a step the broker does not hold (a replacement rejected after it was
accepted, a stop moved back at the broker) is tried again.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from trading_monitor.broker.models import BrokerOrder
from trading_monitor.crashpoints import crash_point
from trading_monitor.db.connection import Row
from trading_monitor.domain.lifecycle import OrderRole
from trading_monitor.domain.order_status import OrderStatus
from trading_monitor.domain.sides import Side
from trading_monitor.domain.ticks import price_text
from trading_monitor.domain.trailing import Step, trail
from trading_monitor.engine.cancelling import follow_replacements
from trading_monitor.engine.state import LoadedTrade
from trading_monitor.exceptions import RejectedError, TemporaryError
from trading_monitor.position_monitor.context import PositionMonitor

log = logging.getLogger(__name__)
CONFIRMED = ("new", "held")  # the broker's word that a replacement is live


def trail_stops(pm: PositionMonitor, trades: list[LoadedTrade],
                open_orders: dict[str, BrokerOrder] | None = None) -> list[str]:
    done = []
    for trade in trades:
        result = _trail_one(pm, trade, open_orders or {})
        if result:
            done.append(result)
    return done


def _trail_one(pm: PositionMonitor, trade: LoadedTrade, listed: dict[str, BrokerOrder]
               ) -> str | None:
    t, j = trade.state, trade.journal
    if not pm.orders.dry_run and _settle_unsent(pm, trade):
        return f"trade #{t.journal_id} {j['symbol']}: settled an earlier replace"
    avg = t.entry_filled[1]
    marks = [trade.position] if trade.position else []
    if t.status.value != "POSITION" or avg is None or not marks:
        return None
    mark = marks[0]
    if mark["high_water_mark"] is None or mark["mark_stale"]:
        return None
    stop_row = _live_stop(trade, listed)
    if stop_row is None:
        return None  # no stop of ours to move: reconciliation protects the position
    at_broker = listed.get(stop_row["alpaca_order_id"])
    stop = at_broker.stop_price if at_broker is not None and at_broker.stop_price is not None \
        else stop_row["stop_price"]
    step = standing_step(t.side, avg, pm.config.trailing_steps, stop, int(mark["trail_step"]))
    move = trail(t.side, avg, mark["high_water_mark"], pm.config.trailing_steps, stop, step)
    if move is None:
        return _catch_up(pm, trade, stop_row, mark, avg, stop)
    text = (f"trade #{t.journal_id} {j['symbol']}: trail the stop "
            f"{price_text(stop_row['stop_price'])} → {price_text(move.stop_price)} "
            f"(step {move.step})")
    if pm.orders.dry_run:
        pm.orders.would(text)
        return None
    new = _replace(pm, j, stop_row, move.stop_price)
    if new is None:
        return f"{text}: replace failed, the old stop stays; retried next cycle"
    if new.status not in CONFIRMED:
        return f"{text}: {new.status}, recorded once the broker shows it live"
    pm.orders.ledger.record_trail_step(t.journal_id, move.step, move.stop_price)
    return text


def standing_step(side: str, entry: Decimal, steps: tuple[Step, ...], stop: Decimal,
                  recorded: int) -> int:
    """The recorded step, or a lower one if the broker's stop does not stand at its level."""
    standing = 0
    for index, s in enumerate(steps[:recorded], start=1):
        level = trail(side, entry, _best_for(side, entry, s), steps[:index], None, index - 1)
        if level is not None and (stop >= level.stop_price if side == "buy"
                                  else stop <= level.stop_price):
            standing = index
    return standing


def _best_for(side: str, entry: Decimal, s: Step) -> Decimal:
    """A best price that reaches exactly this step's gain."""
    gain = s.gain_pct / 100
    return Side.of(side).moved(entry, gain)


def _catch_up(pm: PositionMonitor, trade: LoadedTrade, stop_row: Row, mark: Row,
              avg: Decimal, stop: Decimal) -> str | None:
    """A step the live stop already stands at, not yet recorded (a run died between the
    broker accepting the replace and recording the step): record it, so the journal's stop
    is the broker's."""
    t = trade.state
    due = trail(t.side, avg, mark["high_water_mark"],
                pm.config.trailing_steps, None, int(mark["trail_step"]))
    if due is None or pm.orders.dry_run or stop_row["order_status"] not in CONFIRMED:
        return None
    if standing_step(t.side, avg, pm.config.trailing_steps, stop, due.step) < due.step:
        return None  # the live stop is not at that step (yet)
    pm.orders.ledger.record_trail_step(t.journal_id, due.step, stop)
    return (f"trade #{t.journal_id} {trade.journal['symbol']}: the stop already stands at "
            f"{price_text(stop)}: step {due.step} recorded")


def _settle_unsent(pm: PositionMonitor, trade: LoadedTrade) -> bool:
    """A replacement written by a run that died before its PATCH was answered: adopt the new
    order if the broker made it, else the intent never went out."""
    # Only stop replacements: an AMEND's entry intent also names the order it replaces, and
    # is the executor's to settle (it waits, unsent, while the old entry's cancel settles).
    unsent = [r for r in trade.orders if r["order_status"] == "pending_submit"
              and r["replaces_order_execution_id"] is not None
              and r["order_role"] == OrderRole.STOP_LOSS.value]
    for row in unsent:
        found = follow_replacements(pm.orders.broker, pm.orders.broker.get_order_by_client_id(
            row["client_order_id"]))
        if found is None:
            pm.orders.ledger.mark_orders([row], "not_sent", "replace never reached the broker")
            continue
        pm.orders.ledger.record_order(row, found)
        old = next(r for r in trade.orders if r["id"] == row["replaces_order_execution_id"])
        old_now = pm.orders.broker.get_order(old["alpaca_order_id"])
        if old_now is not None:
            pm.orders.ledger.record_order(old, old_now)
    return bool(unsent)


def _replaceable(value: str) -> bool:
    """A stop that protects and that Alpaca lets us PATCH now (not while it settles:
    accepted, pending_new, pending_replace are refused)."""
    status = OrderStatus(value)
    return status.protects and not status.settling


def _live_stop(trade: LoadedTrade, listed: dict[str, BrokerOrder]) -> Row | None:
    """The stop to trail: the one furthest from the market. A position that grew has two
    (RESIZE: the added shares got their own), and each cycle moves the one left behind."""
    stops = [r for r in trade.orders if r["order_role"] == OrderRole.STOP_LOSS.value
             and _replaceable(r["order_status"]) and r["alpaca_order_id"]]
    if not stops:
        return None

    def price(r: Row) -> Decimal:
        at_broker = listed.get(r["alpaca_order_id"])
        found = at_broker.stop_price if at_broker is not None else None
        return Decimal(found if found is not None else r["stop_price"])

    long = trade.state.side == "buy"
    return min(reversed(stops), key=lambda r: price(r) if long else -price(r))


def _replace(pm: PositionMonitor, journal: Row, old: Row, stop_price: Decimal
             ) -> BrokerOrder | None:
    """PATCH the stop (a leg by its own id) into a new order with our next client order id."""
    row = pm.orders.ledger.write_replacement_intent(journal, pm.orders.installation, old,
                                                    stop_price=stop_price)
    try:
        new = pm.orders.broker.replace_order(old["alpaca_order_id"], stop_price=row["stop_price"],
                                             client_order_id=row["client_order_id"])
        crash_point("after_trail_submit")
    except (RejectedError, TemporaryError) as exc:
        # An unclear PATCH may still have gone through: look before calling it failed.
        found = follow_replacements(pm.orders.broker, pm.orders.broker.get_order_by_client_id(
            row["client_order_id"]))
        if found is None:
            pm.orders.ledger.mark_orders([row], "not_sent", f"replace refused: {exc}")
            log.warning("trailing replace of %s failed, the old stop stays: %s",
                        old["client_order_id"], exc)
            return None
        new = found
    pm.orders.ledger.record_order(row, new)
    old_now = pm.orders.broker.get_order(old["alpaca_order_id"])
    if old_now is not None:
        pm.orders.ledger.record_order(old, old_now)
    return new

