"""trade_updates over the websocket, as alpaca-py's TradingStream receives it."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import websockets
from alpaca.trading.models import TradeUpdate
from alpaca.trading.requests import (
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLossRequest,
    TakeProfitRequest,
)

from tests.paper_exchange.conftest import StreamRecorder, wait_until


def test_event_order_for_a_bracket_round_trip(client, ctl, stream):
    ctl.set_price("AAPL", Decimal("100"))
    order = client.submit_order(MarketOrderRequest(
        symbol="AAPL", qty=2, side="buy", time_in_force="gtc", order_class="bracket",
        take_profit=TakeProfitRequest(limit_price=110), stop_loss=StopLossRequest(stop_price=95)))
    ctl.set_price("AAPL", Decimal("111"))
    wait_until(lambda: len(stream.updates) >= 5, what="five trade updates")
    events = [(u.event, u.order.type.value) for u in stream.updates]
    # The stop-loss stays held (no "new" for it) until the take-profit's fill cancels it.
    assert events == [("new", "market"), ("fill", "market"), ("new", "limit"),
                      ("fill", "limit"), ("canceled", "stop")]
    fill = stream.updates[1]
    assert str(fill.order.id) == str(order.id)
    assert fill.price == 100 and fill.qty == 2 and fill.position_qty == 2
    assert fill.execution_id is not None
    assert stream.updates[3].position_qty == 0


def test_partial_fill_cancel_replace_expire_events(client, ctl, stream):
    ctl.set_price("MSFT", Decimal("400"))
    ctl.set_partial_fill(symbol="MSFT", ratio=Decimal("0.5"))
    client.submit_order(MarketOrderRequest(symbol="MSFT", qty=4, side="buy",
                                           time_in_force="day"))
    ctl.advance(1)
    limit = client.submit_order(LimitOrderRequest(symbol="MSFT", qty=1, side="buy",
                                                  time_in_force="day", limit_price=300))
    replaced = client.replace_order_by_id(limit.id, ReplaceOrderRequest(limit_price=310))
    gtc = client.submit_order(LimitOrderRequest(symbol="MSFT", qty=1, side="buy",
                                                time_in_force="gtc", limit_price=300))
    client.cancel_order_by_id(gtc.id)
    ctl.advance(7 * 3600)  # past the close: the replacement day order expires
    wait_until(lambda: len(stream.updates) >= 9, what="nine trade updates")
    assert [u.event for u in stream.updates] == [
        "new", "partial_fill", "fill", "new", "replaced", "new", "new", "canceled", "expired"]
    assert str(stream.updates[4].order.replaced_by) == str(replaced.id)
    assert str(stream.updates[8].order.id) == str(replaced.id)


def test_rejected_event_when_funds_vanish_before_the_open(client, ctl, stream):
    ctl.set_price("AAPL", Decimal("100"))
    ctl.advance(7 * 3600)  # closed
    client.submit_order(MarketOrderRequest(symbol="AAPL", qty=900, side="buy",
                                           time_in_force="day"))
    ctl.set_price("AAPL", Decimal("200"))  # 900 shares now cost 180k
    ctl.advance(17 * 3600 + 3 * 86400)  # well into Monday's session
    wait_until(lambda: len(stream.updates) >= 2, what="rejection")
    assert [u.event for u in stream.updates] == ["new", "rejected"]
    assert stream.updates[1].order.status == "rejected"


def test_stream_drop_loses_one_event(client, ctl, stream):
    ctl.set_fault(kind="stream_drop", count=1)
    client.submit_order(MarketOrderRequest(symbol="AAPL", qty=1, side="buy",
                                           time_in_force="day"))
    wait_until(lambda: len(stream.updates) >= 1, what="the fill")
    assert [u.event for u in stream.updates] == ["fill"]


def test_stream_disconnect_and_sdk_reconnects(client, ctl, exchange, stream):
    ctl.set_fault(endpoint="GET /stream", kind="stream_disconnect", count=1)
    client.submit_order(MarketOrderRequest(symbol="AAPL", qty=1, side="buy",
                                           time_in_force="day"))
    # The "new" event went down with the connection; the SDK reconnects by itself.
    wait_until(lambda: exchange.control.state()["stream_listeners"] == 1, what="reconnect")
    client.submit_order(MarketOrderRequest(symbol="AAPL", qty=1, side="sell",
                                           time_in_force="day"))
    wait_until(lambda: len(stream.updates) >= 2, what="events after reconnect")
    events = [u.event for u in stream.updates]
    assert "fill" in events and events[-2:] == ["new", "fill"]


def test_protocol_frames_exactly(exchange):
    async def talk() -> list[dict]:
        async with websockets.connect(exchange.stream_url) as ws:
            await ws.send(json.dumps({"action": "authenticate",
                                      "data": {"key_id": "k", "secret_key": "s"}}))
            first = json.loads(await ws.recv())
            await ws.send(json.dumps({"action": "listen",
                                      "data": {"streams": ["trade_updates"]}}))
            second = json.loads(await ws.recv())
            return [first, second]

    assert asyncio.run(talk()) == [
        {"stream": "authorization", "data": {"status": "authorized", "action": "authenticate"}},
        {"stream": "listening", "data": {"streams": ["trade_updates"]}},
    ]


def test_wrong_keys_are_unauthorized():
    from trading_monitor.paper_exchange import PaperExchange

    async def talk(url: str) -> dict:
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"action": "authenticate",
                                      "data": {"key_id": "bad", "secret_key": "bad"}}))
            return json.loads(await ws.recv())

    with PaperExchange(api_key="good", secret_key="good").start() as ex:
        reply = asyncio.run(talk(ex.stream_url))
    assert reply["data"]["status"] == "unauthorized"


def test_every_frame_parses_as_trade_update(client, ctl, exchange):
    frames: list[dict] = []

    async def listen(n: int) -> None:
        async with websockets.connect(exchange.stream_url) as ws:
            await ws.send(json.dumps({"action": "auth", "data": {"key_id": "k",
                                                                 "secret_key": "s"}}))
            await ws.recv()
            await ws.send(json.dumps({"action": "listen", "data": {"streams": [
                "trade_updates"]}}))
            await ws.recv()
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, lambda: client.submit_order(MarketOrderRequest(
                symbol="AAPL", qty=1, side="buy", time_in_force="day")))
            for _ in range(n):
                frames.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))

    asyncio.run(listen(2))
    for frame in frames:
        assert frame["stream"] == "trade_updates"
        TradeUpdate(**frame["data"])
    assert frames[1]["data"]["price"] == frames[1]["data"]["order"]["filled_avg_price"]


def test_recorder_helper_stops_cleanly(exchange):
    recorder = StreamRecorder(exchange.stream_url).start(exchange)
    recorder.stop()
    assert not recorder.thread.is_alive()


def test_handshake_fault_then_sdk_retries(exchange, ctl, client):
    ctl.set_fault(endpoint="GET /stream", kind="http_status", status=429, count=1)
    recorder = StreamRecorder(exchange.stream_url).start(exchange)
    try:
        assert ctl.counters()["GET /stream"] == 2  # refused once, then connected
        client.submit_order(MarketOrderRequest(symbol="AAPL", qty=1, side="buy",
                                               time_in_force="day"))
        wait_until(lambda: len(recorder.updates) >= 2, what="events")
    finally:
        recorder.stop()


def test_stop_with_a_listener_still_connected():
    import time

    from trading_monitor.paper_exchange import PaperExchange

    ex = PaperExchange().start()
    recorder = StreamRecorder(ex.stream_url).start(ex)
    started = time.monotonic()
    ex.stop()
    assert time.monotonic() - started < 2
    recorder.stop()


def test_protocol_errors(exchange):
    async def talk() -> list[dict]:
        async with websockets.connect(exchange.stream_url) as ws:
            await ws.send(json.dumps({"action": "listen",
                                      "data": {"streams": ["trade_updates"]}}))
            out = [json.loads(await ws.recv())]
            await ws.send("not json")
            out.append(json.loads(await ws.recv()))
            await ws.send(json.dumps({"action": "dance"}))
            out.append(json.loads(await ws.recv()))
            return out

    before_auth, bad_json, unknown = asyncio.run(talk())
    assert before_auth["data"] == {"status": "unauthorized", "action": "listen"}
    assert bad_json["stream"] == unknown["stream"] == "error"
