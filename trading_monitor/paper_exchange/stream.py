"""The trade_updates websocket, speaking the protocol alpaca-py's TradingStream expects."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from trading_monitor.paper_exchange import wire
from trading_monitor.paper_exchange.faults import STREAM_ENDPOINT
from trading_monitor.paper_exchange.plumbing import dumps, keys_ok
from trading_monitor.paper_exchange.venue import Venue

log = logging.getLogger(__name__)
_CLOSE = None  # queue sentinel: close the socket after everything queued before it


class _Client:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.listening = False

    async def write(self) -> None:
        while True:
            frame = await self.queue.get()
            if frame is _CLOSE:
                await self.ws.close()
                return
            try:
                await self.ws.send_str(frame)
            except (ConnectionError, RuntimeError):
                return


class StreamHub:
    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self.clients: set[_Client] = set()

    def flush(self) -> None:
        """Send every engine event to the listeners, applying stream faults per event."""
        events, self.venue.engine.events = self.venue.engine.events, []
        for event in events:
            fault = self.venue.faults.take(STREAM_ENDPOINT, stream=True)
            if fault is not None and fault.kind == "stream_drop":
                continue
            listeners = [c for c in self.clients if c.listening]
            if fault is not None:
                # The event is lost with the connection, as when Alpaca's socket drops.
                for client in listeners:
                    client.listening = False
                    client.queue.put_nowait(_CLOSE)
                continue
            frame = dumps(wire.trade_update(event))
            for client in listeners:
                client.queue.put_nowait(frame)

    async def close_all(self, app: web.Application | None = None) -> None:
        """on_shutdown hook: open websockets would otherwise hold shutdown for its timeout."""
        del app
        for client in list(self.clients):
            client.listening = False
            await client.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        client = _Client(ws)
        self.clients.add(client)
        writer = asyncio.create_task(client.write())
        authorized = False
        try:
            async for msg in ws:
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    client.queue.put_nowait(_error("invalid syntax"))
                    continue
                authorized = self._on_message(request, client, data, authorized)
        finally:
            self.clients.discard(client)
            client.queue.put_nowait(_CLOSE)
            await asyncio.wait([writer], timeout=1)
            writer.cancel()
        return ws

    def _on_message(self, request: web.Request, client: _Client, data: Any,
                    authorized: bool) -> bool:
        action = data.get("action") if isinstance(data, dict) else None
        payload = data.get("data") or {} if isinstance(data, dict) else {}
        if action in ("authenticate", "auth"):
            ok = keys_ok(request.app, payload.get("key_id"), payload.get("secret_key"))
            status = "authorized" if ok else "unauthorized"
            client.queue.put_nowait(dumps({"stream": "authorization",
                                           "data": {"status": status, "action": action}}))
            if not ok:
                client.queue.put_nowait(_CLOSE)
            return ok
        if action == "listen":
            if not authorized:
                client.queue.put_nowait(dumps({"stream": "authorization", "data": {
                    "status": "unauthorized", "action": "listen"}}))
                return authorized
            streams = [s for s in payload.get("streams", []) if s == "trade_updates"]
            client.queue.put_nowait(dumps({"stream": "listening", "data": {"streams": streams}}))
            client.listening = bool(streams)
            return authorized
        client.queue.put_nowait(_error(f"unknown action: {action}"))
        return authorized


def _error(message: str) -> str:
    return dumps({"stream": "error", "data": {"error_message": message}})
