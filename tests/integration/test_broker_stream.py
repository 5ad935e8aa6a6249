"""TradeUpdateStream: alpaca-py's real TradingStream on the paper exchange's websocket."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import MARKET_OPEN, TEST_KEYS, exchange_env
from trading_monitor.broker import convert, known
from trading_monitor.broker.models import BrokerOrder, OrderRequest
from trading_monitor.broker.stream import TradeEvent, TradeUpdateStream
from trading_monitor.paper_exchange import PaperExchange
from trading_monitor.paper_exchange.events import Event
from trading_monitor.paper_exchange.plumbing import HUB
from trading_monitor.settings.config import load_settings

D = Decimal


def wait_for(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.01)
    raise AssertionError(f"not within {timeout}s: {check}")


class Recorder:
    def __init__(self) -> None:
        self.events: list[TradeEvent] = []
        self.connects = 0
        self.threads: set[str] = set()

    def on_event(self, event: TradeEvent) -> None:
        self.threads.add(threading.current_thread().name)
        self.events.append(event)

    def on_connect(self) -> None:
        self.connects += 1

    def named(self, name: str) -> list[TradeEvent]:
        return [e for e in self.events if e.event == name]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def stream(settings, recorder) -> Iterator[TradeUpdateStream]:
    s = TradeUpdateStream(settings, recorder.on_event, recorder.on_connect).start()
    try:
        wait_for(lambda: s.connected and recorder.connects == 1)
        yield s
    finally:
        s.stop()


def market(cid: str, side: str = "buy", qty: int = 10) -> OrderRequest:
    return OrderRequest(cid, "AAPL", side, D(qty), "market", "day")


def inject(exchange: PaperExchange, name: str, order_id: str, **changes: Any) -> None:
    """Have the exchange send an event it never makes by itself (it emits only new,
    partial_fill, fill, pending_cancel, canceled, expired, replaced and rejected), through its
    own wire format, hub and websocket, on its event loop."""
    done = threading.Event()

    def emit() -> None:
        engine = exchange.venue.engine
        order = dataclasses.replace(engine.get(order_id), **changes)
        engine.events.append(Event(name, order, exchange.venue.now))
        exchange._runner.app[HUB].flush()
        done.set()

    exchange._loop.call_soon_threadsafe(emit)
    assert done.wait(5)


def test_fill_event_carries_the_execution(stream, recorder, broker, exchange):
    order = broker.submit_order(market("st-fill-1"))
    (fill,) = wait_for(lambda: recorder.named("fill"))
    assert isinstance(fill, TradeEvent) and isinstance(fill.order, BrokerOrder)
    assert fill.order.id == order.id and fill.order.status == "filled"
    assert fill.order.filled_qty == D(10) and fill.order.filled_avg_price == D("180")
    assert fill.price == D("180") and fill.qty == D(10) and fill.position_qty == D(10)
    assert all(isinstance(v, Decimal) for v in (fill.price, fill.qty, fill.position_qty))
    assert fill.execution_id and fill.at == MARKET_OPEN
    # the exchange makes the FILL activity id's uuid the execution id (unconfirmed at Alpaca)
    (activity,) = broker.fill_activities_after(None)
    assert activity.id.endswith("::" + fill.execution_id)
    (new,) = recorder.named("new")
    assert new.execution_id is None and new.price is None and new.qty is None
    assert [e.event for e in recorder.events] == ["new", "fill"]
    assert stream.events_seen == 2
    assert recorder.threads == {"trade-updates-callbacks"}


def test_partial_fill_event(stream, recorder, broker, exchange):
    exchange.control.set_partial_fill(symbol="AAPL", ratio="0.3")
    broker.submit_order(market("st-pf-1"))
    (part,) = wait_for(lambda: recorder.named("partial_fill"))
    assert part.qty == D(3) and part.position_qty == D(3)
    assert part.order.status == "partially_filled" and part.order.filled_qty == D(3)
    exchange.control.advance(1)
    (fill,) = wait_for(lambda: recorder.named("fill"))
    assert fill.qty == D(7) and fill.position_qty == D(10) and fill.order.filled_qty == D(10)


def test_on_connect_runs_again_after_a_server_side_disconnect(stream, recorder, broker,
                                                              exchange):
    ctl = exchange.control
    assert recorder.connects == 1 and ctl.counters()["GET /stream"] == 1
    ctl.set_fault("GET /stream", "stream_disconnect", count=1)
    broker.submit_order(OrderRequest("st-dc-1", "AAPL", "buy", D(1), "limit", "gtc",
                                     limit_price=D("100.00")))  # its `new` is lost
    wait_for(lambda: recorder.connects == 2)
    assert stream.connected and stream.connects == 2
    assert ctl.counters()["GET /stream"] == 2
    assert recorder.events == []
    broker.submit_order(market("st-dc-2"))  # and events flow again
    wait_for(lambda: recorder.named("fill"))


def test_a_refused_handshake_is_retried(settings, recorder, exchange):
    exchange.control.set_fault("GET /stream", "http_status", status=429, count=1)
    s = TradeUpdateStream(settings, recorder.on_event, recorder.on_connect).start()
    try:
        wait_for(lambda: recorder.connects == 1)
        assert s.connected and exchange.control.counters()["GET /stream"] == 2
    finally:
        s.stop()


def test_event_names_alpaca_py_lacks_are_delivered_as_strings(stream, recorder, broker,
                                                              exchange):
    order = broker.submit_order(OrderRequest("st-odd-1", "AAPL", "buy", D(1), "limit", "gtc",
                                             limit_price=D("100.00")))
    wait_for(lambda: recorder.named("new"))
    # The exchange sends order_cancel_rejected, order_replace_rejected and held itself (the
    # test below); these two it never makes.
    names = ["done_for_day", "something_new"]
    for name in names:
        inject(exchange, name, order.id)
    wait_for(lambda: len(recorder.events) == 1 + len(names))
    assert [e.event for e in recorder.events[1:]] == names
    assert all(type(e.event) is str and e.order.id == order.id for e in recorder.events)


def test_refusals_and_held_legs_the_exchange_tells_arrive_as_strings(stream, recorder, broker,
                                                                       exchange):
    ctl = exchange.control
    ctl.set_cancel_behavior("refuse", client_order_id="st-stuck")
    stuck = broker.submit_order(OrderRequest("st-stuck", "AAPL", "buy", D(1), "limit", "gtc",
                                             limit_price=D("100.00")))
    with pytest.raises(Exception, match="not cancelable"):
        broker.cancel_order(stuck.id)
    (refused,) = wait_for(lambda: recorder.named("order_cancel_rejected"))
    assert type(refused.event) is str and refused.order.id == stuck.id
    assert refused.order.status == "new"  # still live
    ctl.set_cancel_behavior("pending", seconds=30, client_order_id="st-slow")
    slow = broker.submit_order(OrderRequest("st-slow", "AAPL", "buy", D(1), "limit", "gtc",
                                            limit_price=D("99.00")))
    broker.cancel_order(slow.id)  # pending_cancel: a replace is now refused
    with pytest.raises(Exception, match="pending_cancel"):
        broker.replace_order(slow.id, limit_price=D("98.00"))
    (replace_refused,) = wait_for(lambda: recorder.named("order_replace_rejected"))
    assert replace_refused.order.id == slow.id
    ctl.set_rules(held_events=True)
    ctl.advance(7 * 3600)  # closed: the bracket's entry waits and its legs are held
    broker.submit_order(OrderRequest("st-held", "MSFT", "buy", D(1), "market", "gtc",
                                     order_class="bracket", take_profit_limit=D("500.00"),
                                     stop_loss_stop=D("300.00")))
    held = wait_for(lambda: len(recorder.named("held")) == 2 and recorder.named("held"))
    assert {e.order.status for e in held} == {"held"}


def test_an_order_alpaca_py_cannot_read_is_read_as_sent(stream, recorder, broker, exchange,
                                                        caplog):
    order = broker.submit_order(OrderRequest("st-odd-2", "AAPL", "buy", D(2), "limit", "day",
                                             limit_price=D("100.00")))
    inject(exchange, "restated", order.id, status="some_future_status")
    (odd,) = wait_for(lambda: recorder.named("restated"))
    assert odd.order.status == "some_future_status"
    assert odd.order.id == order.id and odd.order.client_order_id == "st-odd-2"
    assert odd.order.qty == D(2) and odd.order.limit_price == D("100")
    assert odd.order.submitted_at == MARKET_OPEN and odd.at == MARKET_OPEN
    assert ("order", "status", "some_future_status") in known.unknown_values_seen()


def test_stream_order_reads_nine_digit_times_and_legs():
    raw = {"id": "o1", "client_order_id": "c1", "symbol": "AAPL", "side": "sell", "qty": "5",
           "type": "limit", "order_class": "oco", "time_in_force": "gtc", "status": "odd",
           "filled_qty": "0", "filled_avg_price": None, "limit_price": "190.10",
           "stop_price": None, "replaced_by": None, "replaces": None,
           "submitted_at": "2026-11-20T14:45:00.123456789Z",
           "legs": [{"id": "o2", "client_order_id": "c2", "symbol": "AAPL", "side": "sell",
                     "qty": "5", "type": "stop", "order_class": "oco", "stop_price": "170",
                     "time_in_force": "gtc", "status": "held", "filled_qty": "0",
                     "filled_avg_price": None, "limit_price": None, "replaced_by": None,
                     "replaces": None, "submitted_at": None, "legs": None}]}
    order = convert.order(raw, "stream trade_updates")
    assert order.submitted_at == MARKET_OPEN.replace(microsecond=123456)
    assert order.limit_price == D("190.10") and order.order_type == "limit"
    (leg,) = order.legs
    assert leg.status == "held" and leg.stop_price == D("170") and leg.order_type == "stop"


def test_callback_failures_are_logged_and_the_stream_goes_on(settings, broker, caplog):
    seen: list[str] = []
    connects: list[int] = []

    def on_event(event: TradeEvent) -> None:
        seen.append(event.event)
        if event.event == "new":
            raise RuntimeError("monitor bug")

    def on_connect() -> None:
        connects.append(1)
        raise RuntimeError("sync failed")

    s = TradeUpdateStream(settings, on_event, on_connect).start()
    try:
        wait_for(lambda: connects and s.connected)
        broker.submit_order(market("st-cb-1"))
        wait_for(lambda: seen == ["new", "fill"])
        assert s.connected and s.connects == 1
    finally:
        s.stop()
    assert "on_connect failed" in caplog.text and "on_event (new) failed" in caplog.text


def test_a_slow_callback_does_not_stop_the_socket_being_read(settings, broker):
    release = threading.Event()
    order_of_calls: list[str] = []

    def on_connect() -> None:
        release.wait(5)
        order_of_calls.append("connect")

    s = TradeUpdateStream(settings, lambda e: order_of_calls.append(e.event), on_connect)
    s.start()
    try:
        wait_for(lambda: s.connected)
        broker.submit_order(market("st-slow-1"))
        wait_for(lambda: s.events_seen == 2)  # read while the sync is still running
        assert order_of_calls == []
        release.set()
        wait_for(lambda: len(order_of_calls) == 3)
        assert order_of_calls == ["connect", "new", "fill"]
    finally:
        release.set()
        s.stop()


def test_stop_is_prompt_and_final(settings, recorder, exchange, caplog):
    s = TradeUpdateStream(settings, recorder.on_event, recorder.on_connect).start()
    wait_for(lambda: s.connected)
    threads = [s._thread, s._worker]
    with caplog.at_level(logging.WARNING, logger="trading_monitor.broker.stream"):
        s.stop()
    # prompt: the socket's loop and the callback worker have ended by the time stop()
    # returns, without falling back on its timeout (which logs a warning)
    assert not any(t is not None and t.is_alive() for t in threads)
    assert not caplog.records
    assert not s.connected
    wait_for(lambda: exchange.control.state()["stream_listeners"] == 0)
    s.stop()  # twice is harmless
    s.start()  # and it can run again
    try:
        wait_for(lambda: recorder.connects == 2)
    finally:
        s.stop()


def test_stop_right_after_start(settings, recorder, caplog):
    s = TradeUpdateStream(settings, recorder.on_event, recorder.on_connect).start()
    threads = [s._thread, s._worker]
    with caplog.at_level(logging.WARNING, logger="trading_monitor.broker.stream"):
        s.stop()
    assert not any(t is not None and t.is_alive() for t in threads)
    assert not caplog.records and not s.connected


def test_wrong_keys_never_connect(recorder):
    with PaperExchange(seed=1, start=MARKET_OPEN, rate_limit_per_min=None,
                       api_key="PKOTHERKEY", secret_key="other-secret").start() as other:
        settings = load_settings(exchange_env(other), need_broker=True)
        s = TradeUpdateStream(settings, recorder.on_event, recorder.on_connect).start()
        try:
            wait_for(lambda: other.control.counters().get("GET /stream", 0) >= 1)
            time.sleep(0.3)
            assert not s.connected and recorder.connects == 0
        finally:
            s.stop()


def test_secrets_never_in_logs_or_reprs(settings, broker, caplog):
    caplog.set_level(logging.DEBUG)
    recorder = Recorder()
    s = TradeUpdateStream(settings, recorder.on_event, recorder.on_connect).start()
    try:
        wait_for(lambda: s.connected)
        broker.submit_order(market("st-sec-1"))
        wait_for(lambda: recorder.named("fill"))
        texts = [caplog.text, repr(s), str(s), repr(recorder.events)]
    finally:
        s.stop()
    assert "trade_updates stream connected" in caplog.text  # our logging did run
    for secret in (TEST_KEYS["ALPACA_API_KEY"], TEST_KEYS["ALPACA_SECRET_KEY"]):
        for text in texts:
            assert secret not in text
    assert repr(s).startswith("TradeUpdateStream(paper=True")
