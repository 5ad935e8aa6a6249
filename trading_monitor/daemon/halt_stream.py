"""The daemon's halt stream (issue 21): the market-data `statuses` channel for every symbol we
hold or work in (trades PENDING or POSITION), on one connection, resubscribed when that set
changes (read every HALT_STREAM_REFRESH_SECONDS).

A halt status flags the symbol in system_state `symbols_halted` (`"by": "statuses"`), the flag
the print rule also feeds (engine/symbol_halts.py): `status` lists it, `health` is WARNING, an ALERT
(`symbol_halt`) and an event on each trade of the symbol; the executor defers entries into it;
protection is kept as it is (nothing here touches an order). The resume status marks it lifted
(entries go on); for LIFT_GRACE a stop Alpaca cancels at the reopening is still known for a
halt's and is re-placed at once (engine/hand_cancel.py).

The leader runs it beside the order stream (WithHaltStream), only for HALT_SOURCE statuses or
both. When the feed refuses the channel (Alpaca: "insufficient subscription"), the stream
closes, system_state `halt_stream` says "refused" and a WARNING says the print rule ("no trade
printed for HALT_SUSPECT_MINUTES") sees halts instead; a daemon restart asks again.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from datetime import datetime
from typing import Any

from trading_monitor.broker.market_stream import StatusStream, halt_state
from trading_monitor.clock import Clock
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.queries import Queries
from trading_monitor.engine.symbol_halts import STREAM_KEY, Halted, update_halted
from trading_monitor.ledger.alerts import alert
from trading_monitor.ledger.runs import log_event, new_run_id
from trading_monitor.settings.config import Settings

QUERIES = Queries(__name__)  # queries.sql beside this module

log = logging.getLogger(__name__)
_STOP = object()
ACTIVE = ("PENDING", "POSITION")


class HaltStream:
    def __init__(self, db_config: dict[str, Any], settings: Settings, *, now: Clock) -> None:
        self._db_config, self._settings, self.now = db_config, settings, now
        self._inbox: queue.Queue[Any] = queue.Queue()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._db: TradingDB | None = None
        self.stream: StatusStream | None = None
        self.run_id = new_run_id("halt_stream")

    def __repr__(self) -> str:
        return f"HaltStream({self.stream!r})"

    def start(self) -> HaltStream:
        s = self._settings
        self._db = TradingDB(config=self._db_config,
                             application_name="trading-monitor halt stream")
        self._state("down", "starting")
        self.stream = StatusStream(
            _secret(s.alpaca_api_key), _secret(s.alpaca_secret_key), s.alpaca_data_feed.value,
            market_stream_url(s), on_status=self._inbox.put,
            on_state=lambda state, detail: self._inbox.put((state, detail)))
        for name, target in (("halt-stream-symbols", self._refresh),
                             ("halt-stream-apply", self._apply_loop)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self.stream is not None:
            self.stream.stop(timeout)
        self._inbox.put(_STOP)
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []
        if self._db is not None:
            self._state("down", "stopped")
            self._db.close()
            self._db = None

    # -- threads ----------------------------------------------------------------------------

    def _refresh(self) -> None:
        while not self._stopping.is_set():
            stream = self.stream
            if stream is None or stream.state == "refused":
                return
            try:
                self._inbox.put(("symbols", None))
            finally:
                self._stopping.wait(self._settings.halt_stream_refresh_seconds)

    def _apply_loop(self) -> None:
        while True:
            item = self._inbox.get()
            if item is _STOP:
                return
            try:
                if isinstance(item, dict):
                    self._status(item)
                elif item[0] == "symbols":
                    self._track()
                else:
                    self._on_state(*item)
            except Exception:
                log.exception("halt stream: %r not applied; the stream goes on", item)

    # -- on the apply thread ----------------------------------------------------------------

    def _track(self) -> None:
        assert self._db is not None and self.stream is not None
        rows = self._db.execute_query(
            QUERIES["held_symbols"], [list(ACTIVE)])
        symbols = {str(r["symbol"]).upper() for r in rows}
        if symbols != self.stream.symbols:
            log.info("halt stream: statuses for %s", ", ".join(sorted(symbols)) or "nothing")
        self.stream.track(symbols)

    def _on_state(self, state: str, detail: str) -> None:
        self._state(state, detail)
        if state == "refused":
            log.warning("the market-data feed refused the statuses channel (%s): halts are "
                        "seen by the print rule instead (no trade printed for "
                        "HALT_SUSPECT_MINUTES)", detail)
            if self.stream is not None:
                threading.Thread(target=self.stream.stop, name="halt-stream-stop",
                                 daemon=True).start()

    def _state(self, state: str, detail: str) -> None:
        assert self._db is not None
        value = {"state": state, "detail": detail, "at": self.now().isoformat()}
        self._db.named_update("set_system_value", {"key": STREAM_KEY, "value": json.dumps(value),
                                                   "reason": f"halt stream: {state}"})

    def _status(self, status: dict[str, Any]) -> None:
        halted = halt_state(status["code"])
        if halted is None:
            return
        db, symbol = self._db, status["symbol"].upper()
        assert db is not None
        now = self.now()
        at: datetime = status["at"] or now
        said = f"{status['code']} {status['message']}".strip()
        if status["reason"]:
            said += f" ({status['reason']} {status['reason_message']})".rstrip()
        fresh: list[bool] = []

        def change(before: Halted) -> Halted:
            fresh.clear()
            prev = before.get(symbol)
            if halted:
                if prev and prev.get("by") == "statuses" and not prev.get("lifted_at"):
                    return before
                fresh.append(True)
                return {**before, symbol: {"since": at.isoformat(timespec="seconds"),
                                           "source": f"statuses: {said}", "by": "statuses"}}
            if not prev or prev.get("lifted_at"):
                return before
            fresh.append(True)
            return {**before, symbol: {**prev, "by": "statuses",
                                       "lifted_at": now.isoformat(timespec="seconds")}}

        update_halted(db, f"halt stream: {symbol} {said}", change)
        if not fresh:
            return
        rows = db.execute_query(QUERIES["trades_of_symbol"], [symbol, list(ACTIVE)])
        ids = [int(r["id"]) for r in rows]
        if halted:
            text = (f"{symbol}: halted ({said}, statuses channel, since "
                    f"{at.isoformat(timespec='seconds')}): trades {ids} keep their stops as "
                    "they are, new entries wait")
            alert(log, "symbol_halt", symbol, "%s", text)
        else:
            text = f"{symbol}: trading resumed ({said}, statuses channel): entries go on"
            log.warning("%s", text)
        for jid in ids:
            log_event(db, self.run_id, "trade_journal", jid,
                      "symbol_halt" if halted else "symbol_halt_lifted", text)


class WithHaltStream:
    """The order stream's listener with the halt stream beside it: started and stopped
    together by the leader; everything else is the listener's."""

    def __init__(self, listener: Any, halt: HaltStream | None) -> None:
        self.listener, self.halt = listener, halt

    def start(self) -> WithHaltStream:
        self.listener.start()
        if self.halt is not None:
            self.halt.start()
        return self

    def stop(self) -> None:
        if self.halt is not None:
            self.halt.stop()
        self.listener.stop()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.listener, name)


def with_halt_stream(listener: Any, db_config: dict[str, Any], settings: Settings,
                     now: Clock) -> WithHaltStream:
    halt = (HaltStream(db_config, settings, now=now)
            if settings.halt_source in ("statuses", "both") else None)
    return WithHaltStream(listener, halt)


def market_stream_url(settings: Settings) -> str | None:
    """ALPACA_MARKET_STREAM_URL; unset, beside a data API that is not Alpaca's (a paper
    exchange at ALPACA_DATA_URL=http://host:port): ws://host:port/v2/<feed>; else Alpaca's."""
    if settings.alpaca_market_stream_url:
        return settings.alpaca_market_stream_url
    data = settings.alpaca_data_url
    if data and "alpaca.markets" not in data:
        base = data.rstrip("/").replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return f"{base}/v2/{settings.alpaca_data_feed.value}"
    return None


def _secret(value: Any) -> str:
    return value.get_secret_value() if value is not None else ""
