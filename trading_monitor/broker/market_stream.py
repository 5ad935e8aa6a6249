"""StatusStream: the market-data websocket's `statuses` channel (trading halts), on alpaca-py's
StockDataStream (its connect, auth, msgpack and reconnect loop, with backoff).

Alpaca sends `{"T":"s","S":sym,"sc","sm","rc","rm","t","z"}` per symbol (alpaca-docs,
stock-pricing-data/realtime.md, "Status Schema"): tape C (UTP) halts with `H` and pauses with
`P` (LULD), resumes trading with `T` (`Q` resumes quoting only: still halted); tapes A/B (CTA)
halt with `2` and resume with `3`. Other codes (imbalances, short-sale restriction) are not
halts and are ignored.

Two hooks on top of alpaca-py 0.44 (pinned), which only logs what the server refuses:
- an error after a subscribe (Alpaca answers `[{"T":"error","code":409,"msg":"insufficient
  subscription"}]` when the plan lacks a channel or feed; GH alpacahq/alpaca-trade-api-js#188)
  or a subscription answer without our statuses is reported as a refusal, as is an
  "insufficient subscription" at authentication (alpaca-py then ends its loop);
- the subscription answer that lists our statuses marks the channel as subscribed, and a
  closed connection as down until alpaca-py's reconnect is subscribed again.
Callbacks run on alpaca-py's event loop thread: they only queue.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from alpaca.data.enums import DataFeed
from alpaca.data.live.stock import StockDataStream

log = logging.getLogger(__name__)
_WS_LOG = logging.getLogger(__name__ + ".websocket")  # never the auth frame at DEBUG
_WS_LOG.setLevel(logging.INFO)
_WS_LOG.addFilter(lambda record: record.levelno > logging.DEBUG)

HALT_CODES = {"H": "C", "P": "C", "2": "A"}  # status code -> tape that uses it
RESUME_CODES = {"T": "C", "3": "A"}


def halt_state(status_code: str) -> bool | None:
    """True: halted; False: trading resumed; None: a status that is neither."""
    if status_code in HALT_CODES:
        return True
    if status_code in RESUME_CODES:
        return False
    return None


class _Stream(StockDataStream):
    def __init__(self, *args: Any, on_subscribed: Callable[[list[str] | None], None],
                 on_refused: Callable[[str], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_subscribed, self._on_refused = on_subscribed, on_refused

    async def close(self) -> None:
        # alpaca-py closes here on every way a connection ends (drop, refusal, stop).
        self._on_subscribed(None)
        await super().close()

    async def _dispatch(self, msg: dict[str, Any]) -> None:
        kind = msg.get("T")
        if kind == "error":
            self._on_refused(f"{msg.get('code')} {msg.get('msg')}")
            return
        if kind == "subscription":
            self._on_subscribed(list(msg.get("statuses") or []))
            return
        await super()._dispatch(msg)


class StatusStream:
    """One connection; `track(symbols)` subscribes to exactly these symbols' statuses."""

    def __init__(self, key: str, secret: str, feed: str, url: str | None, *,
                 on_status: Callable[[dict[str, Any]], None],
                 on_state: Callable[[str, str], None]) -> None:
        self._on_status, self._on_state = on_status, on_state
        self._stream = _Stream(key, secret, feed=DataFeed(feed), raw_data=True,
                               url_override=url, websocket_params={
                                   "ping_interval": 10, "ping_timeout": 180, "max_queue": 1024,
                                   "logger": _WS_LOG},
                               on_subscribed=self._subscribed, on_refused=self._refused)
        self.symbols: set[str] = set()
        self.state = "down"
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"StatusStream(state={self.state!r}, symbols={sorted(self.symbols)})"

    def track(self, symbols: set[str]) -> None:
        """Subscribe to the symbols added, unsubscribe from those gone (one connection)."""
        if self.state == "refused":
            return
        added, gone = symbols - self.symbols, self.symbols - symbols
        self.symbols = set(symbols)
        if gone:
            self._stream.unsubscribe_trading_statuses(*sorted(gone))
        if added:
            self._stream.subscribe_trading_statuses(self._received, *sorted(added))
        if added and self._thread is None:  # alpaca-py connects once something is subscribed
            self._thread = threading.Thread(target=self._run, name="halt-stream", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        stream, thread = self._stream, self._thread
        loop = stream._loop
        if thread is not None and loop is not None and thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(_shutdown(stream), loop).result(timeout)
            except Exception:
                log.warning("the halt stream did not confirm its stop")
        if thread is not None:
            thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        self._stream.run()
        if self.state != "refused" and self._stream._should_run:
            # alpaca-py ends its loop on "insufficient subscription" at authentication.
            self._refused("the feed refused the connection (insufficient subscription)")

    async def _received(self, msg: Any) -> None:
        t = msg.get("t")
        when = t.to_datetime() if t is not None and hasattr(t, "to_datetime") else _parse(t)
        self._on_status({"symbol": str(msg.get("S")), "code": str(msg.get("sc") or ""),
                         "message": str(msg.get("sm") or ""), "reason": str(msg.get("rc") or ""),
                         "reason_message": str(msg.get("rm") or ""), "at": when,
                         "tape": str(msg.get("z") or "")})

    def _subscribed(self, statuses: list[str] | None) -> None:
        if statuses is None:  # the connection closed: statuses may be missed meanwhile
            if self.state == "subscribed":
                self.state = "down"
                self._on_state("down", "disconnected (alpaca-py reconnects)")
            return
        if self.symbols and not (set(statuses) & self.symbols or "*" in statuses):
            self._refused(f"the subscription answer lists no statuses ({statuses})")
            return
        self.state = "subscribed"
        self._on_state("subscribed", ", ".join(sorted(statuses)))

    def _refused(self, detail: str) -> None:
        self.state = "refused"
        self._on_state("refused", detail)


def _parse(value: Any) -> datetime | None:
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None  # the caller stamps it on its own clock


async def _shutdown(stream: StockDataStream) -> None:
    await stream.stop_ws()
    await stream.close()
