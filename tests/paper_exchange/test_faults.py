"""Fault injection knobs, the token bucket, auth, and two alpaca-py weaknesses they expose."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.requests import MarketOrderRequest

from tests.paper_exchange.conftest import KEY, SECRET, fast_retries

BUY = MarketOrderRequest(symbol="AAPL", qty=1, side="buy", time_in_force="day")


def test_rate_limit_headers_on_every_response(client, exchange):
    resp = requests.get(exchange.url + "/v2/account",
                        headers={"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"}, timeout=5)
    assert resp.headers["X-Ratelimit-Limit"] == "200"
    assert int(resp.headers["X-Ratelimit-Remaining"]) == 199
    assert int(resp.headers["X-Ratelimit-Reset"]) >= int(time.time())
    missing = requests.get(exchange.url + "/v2/orders/nope", headers={
        "APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"}, timeout=5)
    assert missing.status_code == 404 and "X-Ratelimit-Limit" in missing.headers


def test_missing_keys_are_401(exchange):
    resp = requests.get(exchange.url + "/v2/account", timeout=5)
    assert resp.status_code == 401
    assert resp.json() == {"code": 40110000, "message": "request is not authorized"}
    assert requests.get(exchange.url + "/control/state", timeout=5).status_code == 401


def test_configured_keys_reject_others():
    from trading_monitor.paper_exchange import PaperExchange

    with PaperExchange(api_key="right", secret_key="secret").start() as ex:
        assert TradingClient("right", "secret", url_override=ex.url).get_account().cash
        with pytest.raises(APIError) as err:
            TradingClient("wrong", "secret", url_override=ex.url).get_account()
        assert err.value.status_code == 401
        assert ex.control.state()["account"]["cash"] == "100000"


def test_token_bucket_429_with_retry_after(exchange, ctl):
    ctl.set_rate_limit(per_min=3)
    client = fast_retries(TradingClient(KEY, SECRET, url_override=exchange.url), attempts=1)
    for _ in range(3):
        client.get_clock()
    headers = {"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"}
    resp = requests.get(exchange.url + "/v2/clock", headers=headers, timeout=5)
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) >= 1
    assert resp.json()["message"] == "rate limit exceeded"
    ctl.set_rate_limit(per_min=None)
    assert requests.get(exchange.url + "/v2/clock", headers=headers, timeout=5).ok


@pytest.mark.parametrize("status", [500, 503])
def test_http_status_fault_is_not_retried_by_sdk(client, ctl, status):
    ctl.set_fault(endpoint="GET /v2/account", kind="http_status", status=status, count=1)
    with pytest.raises(APIError) as err:
        client.get_account()
    assert err.value.status_code == status
    assert client.get_account().cash == "100000"


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [(403, 40310000, "insufficient buying power"), (422, 40010001, "qty must be > 0"),
     (401, None, None)],
)
def test_http_status_fault_with_alpaca_body(client, ctl, status, code, message):
    ctl.set_fault("POST /v2/orders", "http_status", status=status, code=code, message=message,
                  count=1)
    with pytest.raises(APIError) as err:
        client.submit_order(BUY)
    assert err.value.status_code == status
    if code is None:  # Alpaca's own wording for the status
        assert (err.value.code, err.value.message) == (40110000, "request is not authorized")
    else:
        assert (err.value.code, err.value.message) == (code, message)
    assert ctl.orders() == []  # refused without being processed
    assert client.submit_order(BUY).symbol == "AAPL"


def test_latency_fault(client, ctl):
    ctl.set_fault(endpoint="GET /v2/clock", kind="latency", ms=300, count=1)
    started = time.monotonic()
    client.get_clock()
    assert time.monotonic() - started >= 0.3


def test_reset_fault_creates_nothing(client, ctl):
    ctl.set_fault(endpoint="POST /v2/orders", kind="reset", count=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        client.submit_order(BUY)
    assert ctl.orders() == []


def test_lost_response_creates_the_order(client, ctl):
    ctl.set_fault(endpoint="POST /v2/orders", kind="lost_response", count=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        client.submit_order(MarketOrderRequest(symbol="AAPL", qty=1, side="buy",
                                               time_in_force="day", client_order_id="lost-1"))
    # The client never saw it, but the exchange has it: the reconciler must look it up.
    assert client.get_order_by_client_id("lost-1").status == "filled"
    with pytest.raises(APIError) as err:
        client.submit_order(MarketOrderRequest(symbol="AAPL", qty=1, side="buy",
                                               time_in_force="day", client_order_id="lost-1"))
    assert err.value.status_code == 422


def test_probability_faults_are_seeded(exchange, ctl):
    def outcomes() -> list[int]:
        ctl.clear_faults()
        ctl.set_fault(endpoint="GET /v2/clock", kind="http_status", status=500,
                      probability=0.5)
        headers = {"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"}
        return [requests.get(exchange.url + "/v2/clock", headers=headers, timeout=5).status_code
                for _ in range(20)]

    first = outcomes()
    assert 500 in first and 200 in first
    from trading_monitor.paper_exchange import PaperExchange

    with PaperExchange(seed=7).start() as other:
        other.control.set_fault(endpoint="GET /v2/clock", kind="http_status", status=500,
                                probability=0.5)
        headers = {"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"}
        again = [requests.get(other.url + "/v2/clock", headers=headers, timeout=5).status_code
                 for _ in range(20)]
    assert again == first


def test_wildcard_endpoint_and_clear(client, ctl):
    ctl.set_fault(endpoint="*", kind="http_status", status=500, count=5)
    with pytest.raises(APIError):
        client.get_clock()
    ctl.clear_faults()
    assert client.get_clock().is_open


def test_bad_fault_spec_is_422(ctl):
    from trading_monitor.paper_exchange import ControlError

    with pytest.raises(ControlError) as err:
        ctl.set_fault(endpoint="GET /v2/clock", kind="explode")
    assert err.value.status == 422
    with pytest.raises(ControlError) as err:
        ctl.set_fault(endpoint="GET /v2/clock", kind="http_status", status=418)
    assert err.value.status == 422


# -- alpaca-py weaknesses, demonstrated ---------------------------------------------------------


def test_weakness_no_http_timeout_hang_blocks_the_caller(client, ctl):
    """alpaca-py passes no timeout to requests: a hung endpoint blocks for as long as it hangs."""
    ctl.set_fault(endpoint="GET /v2/account", kind="hang", seconds=1.5, count=1)
    started = time.monotonic()
    client.get_account()  # nothing in the SDK gives up early
    elapsed = time.monotonic() - started
    assert 1.5 <= elapsed < 3


@pytest.mark.parametrize("status", [429, 504])
def test_weakness_sdk_retries_order_posts_on_429_and_504(client, ctl, status):
    """A 429/504 on POST /v2/orders is retried by alpaca-py itself: one call, several POSTs.

    With a 504 the first POST may have reached the exchange, so a blind retry can double an
    order; only a client_order_id (rejected as duplicate) makes it safe.
    """
    ctl.reset_counters()
    ctl.set_fault(endpoint="POST /v2/orders", kind="http_status", status=status, count=2,
                  retry_after=1)
    order = client.submit_order(BUY)
    assert order.symbol == "AAPL"
    assert ctl.counters()["POST /v2/orders"] == 3


def test_retry_after_header_on_injected_429(exchange, ctl):
    ctl.set_fault(endpoint="GET /v2/clock", kind="http_status", status=429, retry_after=7)
    resp = requests.get(exchange.url + "/v2/clock", headers={
        "APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"}, timeout=5)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "7"


def test_counters_per_endpoint(client, ctl):
    ctl.reset_counters()
    order = client.submit_order(BUY)
    client.get_order_by_id(order.id)
    client.get_order_by_id(order.id)
    client.get_orders()
    client.get_all_positions()
    client.get_order_by_client_id(order.client_order_id)
    counts = ctl.counters()
    assert counts == {"POST /v2/orders": 1, "GET /v2/orders/{id}": 2, "GET /v2/orders": 1,
                      "GET /v2/positions": 1, "GET /v2/orders:by_client_order_id": 1}


def test_set_price_control_rejects_unknown_symbol(ctl):
    from trading_monitor.paper_exchange import ControlError

    with pytest.raises(ControlError):
        ctl.set_price("NOPE", Decimal("1"))


def _post_into_a_hang(exchange, ctl, client_order_id: str, seconds: float) -> None:
    """A market buy whose POST hangs `seconds`; the client gives up after 0.1 s."""
    ctl.set_fault(endpoint="POST /v2/orders", kind="hang", seconds=seconds, count=1)
    headers = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
    body = {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market",
            "time_in_force": "day", "client_order_id": client_order_id}
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(exchange.url + "/v2/orders", json=body, headers=headers, timeout=0.1)


def test_hung_post_is_processed_after_the_client_gave_up(exchange, ctl):
    _post_into_a_hang(exchange, ctl, "hung-1", 0.5)
    assert ctl.orders() == []  # not yet: the exchange is still "hanging"
    deadline = time.monotonic() + 3
    while not ctl.orders() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [o["client_order_id"] for o in ctl.orders()] == ["hung-1"]


def test_a_post_hung_over_a_reset_never_lands_in_the_new_book(exchange, ctl):
    _post_into_a_hang(exchange, ctl, "hung-over-reset", 0.4)
    ctl.reset()
    time.sleep(0.8)  # past the hang
    assert ctl.orders() == []


@pytest.mark.parametrize("price", ["NaN", "abc", "-5", "0"])
def test_set_price_control_rejects_bad_prices(ctl, price):
    from trading_monitor.paper_exchange import ControlError

    with pytest.raises(ControlError) as err:
        ctl.set_price("AAPL", price)
    assert err.value.status == 422
