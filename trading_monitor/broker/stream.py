"""TradeUpdateStream: Alpaca's trade_updates websocket, kept connected, as our TradeEvents.

Built on alpaca-py's TradingStream (its connect, auth and reconnect loop, with backoff), with
three hooks on top (alpaca-py 0.44, pinned; tests/integration/test_broker_stream.py proves them):

- messages are taken raw and converted here: prices stay Decimal (alpaca-py's TradeUpdate
  reads them as floats) and an event name alpaca-py's enum lacks is kept as sent;
- the server's `listening` answer marks a connection as subscribed: `on_connect` runs after
  every (re)connect, so the caller can re-sync what it missed while disconnected;
- callbacks run on one worker thread, in arrival order, so a long sync never stops the
  socket being read; an exception in a callback is logged and the stream goes on.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import websockets
from alpaca.trading.stream import TradingStream

from trading_monitor.broker import contract, convert
from trading_monitor.broker.models import TradeEvent
from trading_monitor.exceptions import BrokerContractError, FatalError
from trading_monitor.settings.config import Settings

__all__ = ["TradeEvent", "TradeUpdateStream"]

log = logging.getLogger(__name__)

# websockets logs every frame at DEBUG, the authenticate frame (our secret key) included.
# Its connection gets this logger, which never passes DEBUG records on.
_WS_LOG = logging.getLogger(__name__ + ".websocket")
_WS_LOG.setLevel(logging.INFO)
_WS_LOG.addFilter(lambda record: record.levelno > logging.DEBUG)

_CONNECTED = object()
_STOP = object()


class _Stream(TradingStream):
    """TradingStream that reports subscription (the `listening` answer) and disconnects."""

    def __init__(self, *args: Any, on_listening: Callable[[], None],
                 on_closed: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_listening = on_listening
        self._on_closed = on_closed

    async def _dispatch(self, msg: dict[str, Any]) -> None:
        if msg.get("stream") == "listening":
            streams = (msg.get("data") or {}).get("streams") or []
            if "trade_updates" in streams:
                self._on_listening()
            else:
                log.error("the broker did not subscribe us to trade_updates (streams: %s)",
                          streams)
            return
        await super()._dispatch(msg)

    async def _consume(self) -> None:
        """alpaca-py's read loop; a socket closed by our own stop() ends it quietly. (Left to
        alpaca-py, the close we asked for is logged as a WARNING "websocket error,
        restarting", and, once the socket is gone, as an exception.)"""
        try:
            await super()._consume()
        except (websockets.WebSocketException, AttributeError):
            if self._should_run:
                raise
            await self.close()

    async def close(self) -> None:
        # alpaca-py closes here on every way a connection ends (drop, failed auth, stop).
        self._on_closed()
        await super().close()


class TradeUpdateStream:
    def __init__(self, settings: Settings, on_event: Callable[[TradeEvent], None],
                 on_connect: Callable[[], None]) -> None:
        if settings.is_live and not settings.alpaca_live_trading_confirmed:
            raise FatalError("live trading needs ALPACA_PAPER=false and "
                             "ALPACA_LIVE_TRADING_CONFIRMED")
        self._settings = settings
        self._on_event = on_event
        self._on_connect = on_connect
        self._connected = False
        self._stopping = False
        self.events_seen = 0
        self.connects = 0
        self._stream: _Stream | None = None
        self._thread: threading.Thread | None = None
        self._worker: threading.Thread | None = None
        self._inbox: queue.Queue[Any] = queue.Queue()

    def __repr__(self) -> str:
        return (f"TradeUpdateStream(paper={self._settings.alpaca_paper}, "
                f"connected={self._connected}, events_seen={self.events_seen})")

    @property
    def connected(self) -> bool:
        """Connected, authorized and subscribed to trade_updates right now."""
        return self._connected

    def start(self) -> TradeUpdateStream:
        if self._thread is not None:
            raise RuntimeError("the trade update stream is already running")
        s = self._settings
        stream = _Stream(_secret(s.alpaca_api_key), _secret(s.alpaca_secret_key),
                         paper=s.alpaca_paper, raw_data=True, url_override=s.alpaca_stream_url,
                         websocket_params={"ping_interval": 10, "ping_timeout": 180,
                                           "max_queue": 1024, "logger": _WS_LOG},
                         on_listening=self._listening, on_closed=self._closed)
        stream.subscribe_trade_updates(self._received)
        self._stream = stream
        self._stopping = False
        self._inbox = queue.Queue()
        self._worker = threading.Thread(target=self._deliver, name="trade-updates-callbacks",
                                        daemon=True)
        self._worker.start()
        self._thread = threading.Thread(target=stream.run, name="trade-updates", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Close the socket, end alpaca-py's loop, deliver what was already received."""
        stream, thread, worker = self._stream, self._thread, self._worker
        if stream is None or thread is None:
            return
        self._stopping = True
        deadline = time.monotonic() + timeout
        while stream._loop is None and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)  # run() has not made its event loop yet
        loop = stream._loop
        if loop is not None and thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(_shutdown(stream), loop).result(
                    max(deadline - time.monotonic(), 0.1))
            except (FutureTimeout, RuntimeError):
                log.warning("trade update stream did not confirm its stop")
        thread.join(max(deadline - time.monotonic(), 0.1))
        self._inbox.put(_STOP)
        if worker is not None:
            worker.join(max(deadline - time.monotonic(), 0.1))
            if worker.is_alive():
                log.warning("a trade update callback is still running after stop()")
        self._connected = False
        self._stream = self._thread = self._worker = None

    # -- on alpaca-py's event loop ----------------------------------------------------------

    def _listening(self) -> None:
        self._connected = True
        self.connects += 1
        log.info("trade_updates stream connected and subscribed (connection %d)", self.connects)
        self._inbox.put(_CONNECTED)

    def _closed(self) -> None:
        if self._connected and not self._stopping:
            log.warning("trade_updates stream disconnected; alpaca-py reconnects")
        self._connected = False

    async def _received(self, msg: dict[str, Any]) -> None:
        self.events_seen += 1
        data = msg.get("data") if isinstance(msg, dict) else None
        try:
            event = convert.trade_event(data)
        except BrokerContractError as exc:
            # Alerted, not lost: the order monitor's next sync reads the order over REST.
            contract.broken(exc)
            return
        except Exception:
            name = data.get("event") if isinstance(data, dict) else None
            log.exception("unreadable trade update (event %r) skipped", name)
            return
        self._inbox.put(event)

    # -- on the callback thread -------------------------------------------------------------

    def _deliver(self) -> None:
        while True:
            item = self._inbox.get()
            if item is _STOP:
                return
            try:
                if item is _CONNECTED:
                    self._on_connect()
                else:
                    self._on_event(item)
            except Exception:
                what = "on_connect" if item is _CONNECTED else f"on_event ({item.event})"
                log.exception("trade update callback %s failed; the stream goes on", what)


async def _shutdown(stream: _Stream) -> None:
    await stream.stop_ws()
    # Without this, alpaca-py notices the stop only when its 5 s receive wait runs out.
    await stream.close()


def _secret(value: Any) -> str:
    return value.get_secret_value() if value is not None else ""
