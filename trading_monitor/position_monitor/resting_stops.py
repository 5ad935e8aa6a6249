"""A protective stop that triggered but rests unfilled is not protection (issue 21).

Alpaca holds a buy stop as a stop-limit a few per cent above the stop (changes-2026.md §4);
after a gap up through that limit it triggers and rests: a short is then unprotected while
the price runs. Alpaca may do the same to bracket and OCO legs (UNCONFIRMED), so every stop
of ours is looked at as the broker lists it: a `stop_limit` whose stop price the mark has
reached and whose limit the mark is beyond (a buy above it, a sell below it) cannot fill.

RESTING_STOP_ACTION says what follows: `close` (default) buys to cover (sells, for a long) at
market through the flatten machinery (the stop cancelled on the broker's final word first,
put back if the exit does not go), with an ALERT; `alert` raises the ALERT only, once per
order. No broker request unless there is something to do.

A stop triggers only in the regular session (Alpaca: stop orders do not take part in extended
hours), so a stop is judged triggered-and-resting only when it can have triggered: the session
is open now and the last trade beyond it printed in this session, after the stop was placed
(a bracket leg the broker still holds has not triggered, whatever the price). A price beyond
the stop after the close, or before the open, leaves the stop as it is: cancelling it then
would leave the position with no stop until a market cover fills at the open.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from trading_monitor.broker.models import BrokerOrder
from trading_monitor.db.connection import Row
from trading_monitor.db.queries import Queries
from trading_monitor.domain.lifecycle import OrderRole, Purpose
from trading_monitor.domain.market import MarketSnapshot
from trading_monitor.domain.market_time import new_york_date
from trading_monitor.domain.order_status import OrderStatus
from trading_monitor.domain.ticks import price_text
from trading_monitor.engine.flatten import flatten_trade
from trading_monitor.engine.state import LoadedTrade
from trading_monitor.ledger.alerts import alert
from trading_monitor.ledger.runs import log_event
from trading_monitor.position_monitor.context import PositionMonitor

log = logging.getLogger(__name__)
QUERIES = Queries(__name__)  # queries.sql beside this module


def stuck(order: BrokerOrder, mark: Decimal) -> bool:
    """A stop-limit the market went through: triggered, and beyond its limit."""
    if order.order_type != "stop_limit" or order.stop_price is None or order.limit_price is None:
        return False
    if order.side == "buy":
        return mark >= order.stop_price and mark > order.limit_price
    return mark <= order.stop_price and mark < order.limit_price


def resting_stops(pm: PositionMonitor, trades: list[LoadedTrade],
                  listed: dict[str, BrokerOrder],
                  market: dict[str, MarketSnapshot]) -> list[str]:
    done: list[str] = []
    session: tuple[datetime, datetime] | None = None
    unread = True  # the calendar is read once, and only for a stop the market went through
    for trade in trades:
        mark = trade.position["current_price"] if trade.position else None
        if trade.state.status.value != "POSITION" or mark is None or \
                trade.position is None or trade.position["mark_stale"]:
            continue
        for row in trade.orders:
            order = listed.get(row["alpaca_order_id"] or "")
            if row["order_role"] != OrderRole.STOP_LOSS.value or order is None or \
                    not OrderStatus(order.status).protects or not stuck(order, mark):
                continue
            if unread:
                session, unread = _session(pm), False
            if not can_have_triggered(order, market.get(trade.journal["symbol"]), session,
                                      pm.orders.now()):
                continue
            done += _act(pm, trade, row, order, mark)
            break
    return done


def can_have_triggered(order: BrokerOrder, snap: MarketSnapshot | None,
                       session: tuple[datetime, datetime] | None, now: datetime) -> bool:
    """The stop can have triggered at the broker: not a leg it still holds, the session open
    now, and the last trade (the one beyond the stop) printed in it, after the stop went in."""
    if order.status == "held" or session is None or snap is None or snap.last_trade_at is None:
        return False
    opened, closes = session
    placed = order.submitted_at
    return (opened <= now < closes and opened <= snap.last_trade_at <= now
            and (placed is None or snap.last_trade_at >= placed))


def _session(pm: PositionMonitor) -> tuple[datetime, datetime] | None:
    """Today's regular session (open, close) from the broker's calendar; None on a day the
    market is shut."""
    day = new_york_date(pm.orders.now())
    return next(((d.open, d.close) for d in pm.orders.broker.get_calendar(day, day)
                 if d.date == day), None)


def _act(pm: PositionMonitor, trade: LoadedTrade, row: Row, order: BrokerOrder,
         mark: Decimal) -> list[str]:
    m, jid = pm.orders, trade.state.journal_id
    text = (f"trade #{jid} {trade.journal['symbol']}: its stop {row['client_order_id']} "
            f"(stop {price_text(order.stop_price)}, limit {price_text(order.limit_price)}) "
            f"triggered and rests unfilled with the market at {price_text(mark)}: it is not "
            "protection")
    if m.dry_run:
        m.would(text)
        return []
    if pm.config.resting_stop_action == "alert":
        seen = m.db.execute_query(QUERIES["resting_stop_seen"], [row["id"]])
        if seen:
            return []
        alert(log, "resting_stop", f"trade #{jid}", "%s (RESTING_STOP_ACTION=alert: left "
              "as it is)", text)
        log_event(m.db, m.run_id, "order_execution", row["id"], "resting_stop", text)
        return [text]
    alert(log, "resting_stop", f"trade #{jid}", "%s; closing at market "
          "(RESTING_STOP_ACTION=close)", text)
    log_event(m.db, m.run_id, "order_execution", row["id"], "resting_stop", text)
    return [text, *flatten_trade(m, trade, Purpose.EMERGENCY)]
