"""The market-data websocket (`/v2/iex`, `/v2/sip`), speaking what alpaca-py's
StockDataStream expects, with the `statuses` channel that carries trading halts.

Protocol (alpaca-docs, stock-pricing-data/realtime.md; docs.alpaca.markets "WebSocket
Stream"): on connect `[{"T":"success","msg":"connected"}]`; `{"action":"auth","key","secret"}`
(or the APCA-API-* headers) answers `[{"T":"success","msg":"authenticated"}]` or
`[{"T":"error","code":402,"msg":"auth failed"}]`; a second authenticated connection for the same
key is refused with 406 "connection limit exceeded". `{"action":"subscribe", "<channel>": [...]}`
answers the whole current subscription (`{"T":"subscription", ...}`). Frames are msgpack when
the client says `Content-Type: application/msgpack` (alpaca-py does), JSON otherwise.

Statuses: when a halt is set or lifted (POST /control/halt, or anything that changes the
engine's halts) every client subscribed to the symbol (or `*`) gets a status message
`{"T":"s","S":sym,"sc","sm","rc","rm","t","z"}`: tape C (a NASDAQ listing, UTP codes) halts
with `H` "Trading Halt" / reason `T1` and resumes with `T` "Trading Resumption"; tapes A/B
(CTA codes) with `2` "Trading Halt" / reason `P` and `3` "Resume".

A feed may refuse the channel: POST /control/market_stream {"feed": "iex", "statuses": "refuse",
"code": 409} answers a subscribe that asks for statuses with
`[{"T":"error","code":409,"msg":"insufficient subscription"}]` and leaves the subscription as it
was (GH alpacahq/alpaca-trade-api-js#188: statuses on the free plan answered "insufficient
subscription"; which code Alpaca sends today for IEX is UNCONFIRMED, so the code is settable).
Only statuses are published; trades, quotes and bars are accepted into the subscription and
never sent (the REST endpoints serve prices).
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import msgpack
from aiohttp import WSMsgType, web

from trading_monitor.paper_exchange.plumbing import json_body, keys_ok, reply
from trading_monitor.paper_exchange.venue import Venue

CHANNELS = ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds",
            "corrections", "cancelErrors")
ERRORS = {400: "invalid syntax", 401: "not authenticated", 402: "auth failed",
          405: "symbol limit exceeded", 406: "connection limit exceeded",
          409: "insufficient subscription", 410: "invalid subscribe action for this feed"}
HALT = {"C": ("H", "Trading Halt", "T1", "Halt News Pending"),
        "A": ("2", "Trading Halt", "P", "News Pending")}
RESUME = {"C": ("T", "Trading Resumption", "", ""), "A": ("3", "Resume", "", "")}
HUB_KEY: web.AppKey[Any] = web.AppKey("market_hub")
routes = web.RouteTableDef()


class _Client:
    def __init__(self, ws: web.WebSocketResponse, feed: str, packed: bool) -> None:
        self.ws, self.feed, self.packed = ws, feed, packed
        self.key: str | None = None
        self.subs: dict[str, set[str]] = {c: set() for c in CHANNELS}

    async def send(self, messages: list[dict[str, Any]]) -> None:
        if self.packed:
            await self.ws.send_bytes(msgpack.packb([_packable(m) for m in messages]))
        else:
            await self.ws.send_str(json.dumps(messages, default=_iso))


class MarketStreamHub:
    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self.clients: set[_Client] = set()
        self.refused: dict[str, int] = {}  # feed -> error code for a statuses subscription
        self.published: list[dict[str, Any]] = []
        self._halted: set[str] = set()

    def flush(self) -> None:
        """After every request and tick: publish a status for each halt set or lifted."""
        now_halted = set(self.venue.engine.paused)
        started, lifted = now_halted - self._halted, self._halted - now_halted
        self._halted = now_halted
        for symbol in sorted(started | lifted):
            self._publish(self._status(symbol, symbol in started))

    def _status(self, symbol: str, halted: bool) -> dict[str, Any]:
        asset = self.venue.assets.get(symbol)
        tape = "C" if asset is not None and asset.exchange == "NASDAQ" else "A"
        sc, sm, rc, rm = (HALT if halted else RESUME)[tape]
        return {"T": "s", "S": symbol, "sc": sc, "sm": sm, "rc": rc, "rm": rm,
                "t": self.venue.clock.now(), "z": tape}

    def _publish(self, message: dict[str, Any]) -> None:
        self.published.append(message)
        for client in list(self.clients):
            wanted = client.subs["statuses"]
            if client.key is not None and (message["S"] in wanted or "*" in wanted):
                asyncio.ensure_future(_quietly(client.send([message])))

    def describe(self) -> dict[str, Any]:
        return {"refused": self.refused,
                "clients": [{"feed": c.feed, "authenticated": c.key is not None,
                             **{k: sorted(v) for k, v in c.subs.items() if v}}
                            for c in self.clients],
                "published": [{**m, "t": _iso(m["t"])} for m in self.published]}

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        packed = request.headers.get("Content-Type", "") == "application/msgpack"
        client = _Client(ws, request.match_info["feed"], packed)
        self.clients.add(client)
        try:
            await client.send([{"T": "success", "msg": "connected"}])
            head_key = request.headers.get("APCA-API-KEY-ID")
            if head_key and not await self._auth(request, client, head_key,
                                                 request.headers.get("APCA-API-SECRET-KEY")):
                return ws
            async for msg in ws:
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                try:
                    data = (msgpack.unpackb(msg.data) if msg.type == WSMsgType.BINARY
                            else json.loads(msg.data))
                except ValueError:
                    await client.send([_error(400)])
                    continue
                if not isinstance(data, dict):
                    await client.send([_error(400)])
                elif data.get("action") == "auth":
                    if not await self._auth(request, client, data.get("key"),
                                            data.get("secret")):
                        break
                elif client.key is None:
                    await client.send([_error(401)])
                elif data.get("action") in ("subscribe", "unsubscribe"):
                    await self._subscribe(client, data)
                else:
                    await client.send([_error(400)])
        finally:
            self.clients.discard(client)
        return ws

    async def _auth(self, request: web.Request, client: _Client, key: Any,
                    secret: Any) -> bool:
        if not keys_ok(request.app, key, secret):
            await client.send([_error(402)])
            await client.ws.close()
            return False
        if any(c.key == key for c in self.clients if c is not client):
            await client.send([_error(406)])
            await client.ws.close()
            return False
        client.key = str(key)
        await client.send([{"T": "success", "msg": "authenticated"}])
        return True

    async def _subscribe(self, client: _Client, data: dict[str, Any]) -> None:
        adding = data["action"] == "subscribe"
        if adding and data.get("statuses") and client.feed in self.refused:
            await client.send([_error(self.refused[client.feed])])
            return
        for channel in CHANNELS:
            symbols = data.get(channel) or []
            if not isinstance(symbols, list):
                await client.send([_error(400)])
                return
            wanted = {str(s).upper() if s != "*" else "*" for s in symbols}
            if adding:
                client.subs[channel] |= wanted
            else:
                client.subs[channel] -= wanted
        await client.send([{"T": "subscription",
                            **{c: sorted(v) for c, v in client.subs.items()}}])


@routes.post("/control/market_stream")
async def control_market_stream(request: web.Request) -> web.Response:
    """{"feed": "iex"|"sip", "statuses": "refuse"|"allow", "code"?: 409}"""
    body = await json_body(request)
    hub: MarketStreamHub = request.app[HUB_KEY]
    feed = str(body.get("feed") or "")
    if feed not in ("iex", "sip"):
        raise ValueError('feed must be "iex" or "sip"')
    if body.get("statuses") == "refuse":
        code = int(body.get("code") or 409)
        if code not in ERRORS:
            raise ValueError(f"code must be one of {sorted(ERRORS)}")
        hub.refused[feed] = code
    elif body.get("statuses") == "allow":
        hub.refused.pop(feed, None)
    else:
        raise ValueError('statuses must be "refuse" or "allow"')
    return reply(hub.describe())


@routes.get("/control/market_stream")
async def describe_market_stream(request: web.Request) -> web.Response:
    return reply(request.app[HUB_KEY].describe())


def install(app: web.Application, venue: Venue) -> MarketStreamHub:
    """The hub, its routes (/v2/iex, /v2/sip and the control routes) and its flush hook."""
    hub = MarketStreamHub(venue)
    app[HUB_KEY] = hub
    app.router.add_routes(routes)
    app.router.add_get("/v2/{feed:iex|sip}", hub.handle)
    return hub


def _error(code: int) -> dict[str, Any]:
    return {"T": "error", "code": code, "msg": ERRORS[code]}


def _packable(message: dict[str, Any]) -> dict[str, Any]:
    t = message.get("t")
    return {**message, "t": msgpack.Timestamp.from_datetime(t)} if isinstance(
        t, datetime) else message


def _iso(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else str(
        value)


async def _quietly(sending: Any) -> None:
    try:
        await sending
    except (ConnectionError, RuntimeError):
        pass
