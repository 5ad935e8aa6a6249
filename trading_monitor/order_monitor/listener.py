"""The order stream listener: a fill on `trade_updates` is booked and its trade settled
within a second, instead of at the next polling cycle.

Only the leader runs it (Alpaca allows one stream per key). After every (re)connect a full
order-monitor cycle runs, so nothing missed while disconnected is lost; polling stays the
reconciliation of record. Each event takes the order monitor's advisory lock, so it never
acts on a trade at the same time as a polling cycle.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from trading_monitor.broker.base import Broker
from trading_monitor.broker.models import TradeEvent
from trading_monitor.broker.stream import TradeUpdateStream
from trading_monitor.clock import Clock
from trading_monitor.config import Settings
from trading_monitor.db_layer import TradingDB
from trading_monitor.ledger.fills import FillFact
from trading_monitor.ledger.installation import installation_id
from trading_monitor.locks import hold_lock
from trading_monitor.order_monitor.context import Monitor
from trading_monitor.order_monitor.service import (
    ORDER_MONITOR_LOCK_KEY,
    monitor_once,
    monitor_settings,
)
from trading_monitor.order_monitor.settle import settle_trade
from trading_monitor.order_monitor.state import load_trades
from trading_monitor.order_monitor.sync import SyncResult, apply_order
from trading_monitor.runs import new_run_id

log = logging.getLogger(__name__)
FILL_EVENTS = frozenset({"fill", "partial_fill"})


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

    def start(self) -> OrderStreamListener:
        self._stream.start()
        return self

    def stop(self) -> None:
        self._stream.stop()
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
        db = self._connection()
        with hold_lock(db, ORDER_MONITOR_LOCK_KEY, "order monitor",
                       self.settings.executor_lock_wait_seconds, self.sleep):
            self._handle(db, event)
        self.handled += 1

    def _handle(self, db: TradingDB, event: TradeEvent) -> None:
        rows = db.named("orders_by_alpaca_ids", {"ids": [event.order.id]})
        m = Monitor(db=db, broker=self.broker, run_id=new_run_id("order_stream"),
                    installation=installation_id(db), config=monitor_settings(self.settings),
                    now=self.now, sleep=self.sleep)
        if event.event in FILL_EVENTS and event.qty and event.price:
            m.ledger.record_fill(FillFact(
                alpaca_order_id=event.order.id, symbol=event.order.symbol,
                side=event.order.side, qty=event.qty, cum_qty=event.order.filled_qty,
                price=event.price, filled_at=event.at or self.now(), source="stream",
                execution_id=event.execution_id), rows[0] if rows else None)
        if not rows:
            log.info("stream: %s for an order that is not ours (%s)", event.event,
                     event.order.client_order_id)
            return
        apply_order(m, rows[0], event.order, SyncResult())
        for trade in load_trades(db, [int(rows[0]["trade_journal_id"])]):
            for done in settle_trade(m, trade):
                log.info("stream: %s", done)

    def _connection(self) -> TradingDB:
        if self._db is None:
            self._db = TradingDB(config=self.db_config,
                                 application_name="trading-monitor order stream").connect()
        return self._db
