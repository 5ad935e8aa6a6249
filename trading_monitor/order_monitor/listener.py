"""The order stream listener: a fill on `trade_updates` is booked and its trade settled
within a second, instead of at the next polling cycle.

Only the leader runs it (Alpaca allows one stream per key). After every (re)connect a full
order-monitor cycle runs, so nothing missed while disconnected is lost; polling stays the
reconciliation of record. Each event takes the order monitor's advisory lock, so it never
acts on a trade at the same time as a polling cycle.

An event is placed by the broker's order id, or by our client order id: an entry that fills
on submission streams its fill before the executor has recorded the broker's id (the intent
row, with its client order id, is committed before the order is sent). An event neither
places is kept and tried again for up to `RETRY_SECONDS` (the row that explains it may
be in a transaction not committed yet, a bracket leg's parent for one), then left to the
next poll.

A stop of ours cancelled at the broker by someone else (the trader, by hand) is not put back
at once: an ALERT, then HAND_CANCEL_GRACE_SECONDS for the trader to close the position by
hand, then protection again if the position is still there (hand_cancel.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from trading_monitor.broker.base import Broker
from trading_monitor.broker.models import TradeEvent
from trading_monitor.broker.stream import TradeUpdateStream
from trading_monitor.clock import Clock
from trading_monitor.db.connection import Row, TradingDB
from trading_monitor.db.locks import hold_lock
from trading_monitor.engine import hand_cancel
from trading_monitor.engine.context import Monitor, monitor_settings
from trading_monitor.engine.end_of_day import flatten_now
from trading_monitor.engine.job_locks import ORDER_MONITOR_LOCK_KEY
from trading_monitor.engine.settle import settle_trade
from trading_monitor.engine.state import load_trades
from trading_monitor.engine.sync import SyncResult, apply_order
from trading_monitor.ledger.fills import FillFact
from trading_monitor.ledger.installation import installation_id
from trading_monitor.ledger.runs import new_run_id
from trading_monitor.order_monitor.service import monitor_once
from trading_monitor.settings.config import Settings

log = logging.getLogger(__name__)
FILL_EVENTS = frozenset({"fill", "partial_fill"})
RETRY_SECONDS = 30.0
RETRY_DELAYS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 14.25)  # adds up to RETRY_SECONDS
PROTECT_RETRIES = 64  # 0.5 s, 1 s, 2 s, 4 s, then every 5 s: about a polling interval


class OrderStreamListener:
    def __init__(self, db_config: dict[str, Any], broker: Broker, settings: Settings, *,
                 now: Clock, sleep: Callable[[float], None] = time.sleep,
                 stream_factory: Callable[..., TradeUpdateStream] = TradeUpdateStream):
        self.db_config, self.broker, self.settings = db_config, broker, settings
        self.now, self.sleep = now, sleep
        self.handled = 0
        self._stream = stream_factory(settings, on_event=self.on_event,
                                      on_connect=self.on_connect)
        self._db: TradingDB | None = None
        self._lock = threading.Lock()  # one connection: the stream and the retries take turns
        self._timers: set[threading.Timer] = set()
        self._stopped = False
        self._retrying: set[int] = set()  # trades with a protection retry scheduled
        self._graced: set[int] = set()  # trades waiting out a stop cancelled by hand
        self.unplaced = 0  # events given up on after RETRY_SECONDS (the next poll has them)

    def start(self) -> OrderStreamListener:
        self._stream.start()
        return self

    def stop(self) -> None:
        self._stream.stop()
        with self._lock:
            self._stopped = True
            for timer in list(self._timers):
                timer.cancel()
            if self._db is not None:
                self._db.close()

    @property
    def connected(self) -> bool:
        return bool(self._stream.connected)

    def on_connect(self) -> None:
        """(Re)connected: a full sync catches whatever happened while we were away."""
        report = monitor_once(self.db_config, self.broker, self.settings, now=self.now,
                              sleep=self.sleep, mode="normal")
        log.info("stream (re)connected; full sync: %s", report.summary)

    def on_event(self, event: TradeEvent) -> None:
        self._attempt(event, 0)

    def _attempt(self, event: TradeEvent, attempt: int) -> None:
        with self._lock:
            if self._stopped:
                return
            db = self._connection()
            with hold_lock(db, ORDER_MONITOR_LOCK_KEY, "order monitor",
                           self.settings.executor_lock_wait_seconds, self.sleep):
                placed, again, by_hand = self._handle(db, event)
            if attempt == 0:
                self.handled += 1
        if not placed:
            self._retry_later(event, attempt)
        with self._lock:  # a stop cancelled by hand: its grace, then settle (once)
            wait = by_hand is not None and by_hand not in self._graced
            if by_hand is not None:
                self._graced.add(by_hand)
        if wait:
            self._later(self.settings.hand_cancel_grace_seconds, self._grace_over, by_hand)
        with self._lock:
            fresh = again - self._retrying  # one chain of retries per trade
            self._retrying |= fresh
        for journal_id in fresh:
            self._later(_protect_delay(0), self._settle_again, journal_id, 1)

    def _settle_again(self, journal_id: int, attempt: int) -> None:
        """A trade whose protection could not go out yet (positions lagging the fill, an
        opposite order still working): settled again within seconds until it is accepted,
        for as long as a polling interval, then left to the poll with an ALERT."""
        waiting: set[int] = set()
        try:
            with self._lock:
                if self._stopped:
                    return
                db = self._connection()
                with hold_lock(db, ORDER_MONITOR_LOCK_KEY, "order monitor",
                               self.settings.executor_lock_wait_seconds, self.sleep):
                    m = self._monitor(db)
                    waiting = m.retry_soon
                    for trade in load_trades(db, [journal_id]):
                        for done in settle_trade(m, trade):
                            log.info("stream (retry %d): %s", attempt, done)
        finally:  # whatever happened, the trade's chain either goes on or ends here
            with self._lock:
                again = not self._stopped and journal_id in waiting and \
                    attempt < PROTECT_RETRIES
                if not again:
                    self._retrying.discard(journal_id)
        if again:
            self._later(_protect_delay(attempt), self._settle_again, journal_id, attempt + 1)
        elif journal_id in waiting:
            log.error("ALERT trade #%s still not protected after %d retries; left to the "
                      "next poll", journal_id, attempt)

    def _grace_over(self, journal_id: int) -> None:
        with self._lock:
            if self._stopped:
                return
            self._graced.discard(journal_id)
            db = self._connection()
            hand_cancel.grace_over(db, new_run_id("order_stream"), journal_id)
            journal = db.get_by_id("trade_journal", journal_id)
        if journal is None or journal["status"] != "POSITION":
            return  # closed meanwhile (booked by a monitor)
        long = journal["side"] == "buy"
        if not any(p.symbol == journal["symbol"] and (p.qty > 0) == long
                   for p in self.broker.get_positions()):
            log.info("trade #%s %s: closed at the broker during the grace after its stop was "
                     "cancelled by hand; the monitors book the close", journal_id,
                     journal["symbol"])
            return
        log.info("trade #%s: the grace after its stop was cancelled by hand is over and the "
                 "position is still there: protecting it again", journal_id)
        self._settle_again(journal_id, 1)

    def _monitor(self, db: TradingDB) -> Monitor:
        return Monitor(db=db, broker=self.broker, run_id=new_run_id("order_stream"),
                       installation=installation_id(db), config=monitor_settings(self.settings),
                       now=self.now, sleep=self.sleep)

    def _retry_later(self, event: TradeEvent, attempt: int) -> None:
        if attempt >= len(RETRY_DELAYS):
            self.unplaced += 1
            log.info("stream: %s for an order that is not ours (%s): left to the next poll",
                     event.event, event.order.client_order_id)
            return
        self._later(RETRY_DELAYS[attempt], self._attempt, event, attempt + 1)

    def _later(self, delay: float, work: Callable[..., None], *args: Any) -> None:
        timer = threading.Timer(delay, self._run_later, (work, *args))
        timer.daemon = True
        with self._lock:
            if self._stopped:
                return
            self._timers = {t for t in self._timers if t.is_alive()}
            self._timers.add(timer)
        timer.start()

    @staticmethod
    def _run_later(work: Callable[..., None], *args: Any) -> None:
        try:
            work(*args)
        except Exception:  # a timer thread has no caller to tell: log it, the poll has it
            log.exception("stream: a retry failed (the next poll settles it)")

    def _handle(self, db: TradingDB, event: TradeEvent) -> tuple[bool, set[int], int | None]:
        """Book and settle the event: whether a row of ours explains it (yet), the trades
        whose protection should be tried again soon, and the trade whose stop was cancelled
        by hand (settled once its grace is over)."""
        row = _our_row(db, event)
        m = self._monitor(db)
        if event.event in FILL_EVENTS and event.qty and event.price:
            m.ledger.record_fill(FillFact(
                alpaca_order_id=event.order.id, symbol=event.order.symbol,
                side=event.order.side, qty=event.qty, cum_qty=event.order.filled_qty,
                price=event.price, filled_at=event.at or self.now(), source="stream",
                execution_id=event.execution_id,
                leaves_qty=event.order.qty - event.order.filled_qty), row)
        if row is None:
            return False, set(), None
        apply_order(m, row, event.order, SyncResult())  # marks a stop cancelled by hand
        trade_id = int(row["trade_journal_id"])
        if event.event == "canceled" and row["order_role"] == "STOP_LOSS" and \
                hand_cancel.held_until(db, trade_id, self.now()) is not None:
            return True, set(), trade_id  # (marked by this event, or by a poll before it)
        for trade in load_trades(db, [int(row["trade_journal_id"])]):
            # At the flatten time a day trade's exit goes the moment its stop's cancel is
            # final (R10-LONG): not a stop put back for the next cycle to cancel again.
            lines = flatten_now(m, trade)
            for done in settle_trade(m, trade) if lines is None else lines:
                log.info("stream: %s", done)
        return True, m.retry_soon, None

    def _connection(self) -> TradingDB:
        if self._db is None:
            # Its rows carry the jobs' clock, as a polling cycle's do (db/clock.py).
            self._db = TradingDB(config=self.db_config, clock=self.now,
                                 application_name="trading-monitor order stream").connect()
        return self._db


def _our_row(db: TradingDB, event: TradeEvent) -> Row | None:
    """Our order row for the event: by the broker's id, else by our client order id (a row
    that does not know its broker id yet)."""
    rows = db.named("orders_by_alpaca_ids", {"ids": [event.order.id]})
    if rows:
        return rows[0]
    if not event.order.client_order_id:
        return None
    rows = db.query("order_execution", {"client_order_id": event.order.client_order_id})
    return rows[0] if rows and rows[0]["alpaca_order_id"] in (None, event.order.id) else None


def _protect_delay(attempt: int) -> float:
    return min(0.5 * 2 ** attempt, 5.0)
