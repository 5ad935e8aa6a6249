"""AlpacaBroker: the real alpaca-py SDK over real HTTP against the paper exchange."""

from __future__ import annotations

import logging
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests

from tests.conftest import MARKET_OPEN, TEST_KEYS, exchange_env
from trading_monitor.broker.alpaca import AlpacaBroker, get_data_client, get_trading_client
from trading_monitor.broker.errors import NotFoundError
from trading_monitor.broker.models import (
    BrokerAccount,
    BrokerAsset,
    BrokerOrder,
    BrokerPosition,
    CalendarDay,
    FillActivity,
    MarketClock,
    OrderRequest,
)
from trading_monitor.broker.transport import BudgetedSession, RequestBudget, shared_budget
from trading_monitor.exceptions import (
    ConfigError,
    FatalError,
    RejectedError,
    TemporaryError,
)
from trading_monitor.paper_exchange import PaperExchange
from trading_monitor.settings.config import Settings, load_settings

D = Decimal
PAPER_URL = "https://paper-api.alpaca.markets"
LIVE_URL = "https://api.alpaca.markets"
RAW_HEADERS = {"APCA-API-KEY-ID": TEST_KEYS["ALPACA_API_KEY"],
               "APCA-API-SECRET-KEY": TEST_KEYS["ALPACA_SECRET_KEY"]}


def limit_buy(cid: str, symbol: str = "AAPL", qty: int = 1, price: str = "179.00",
              tif: str = "day") -> OrderRequest:
    return OrderRequest(client_order_id=cid, symbol=symbol, side="buy", qty=D(qty),
                        order_type="limit", time_in_force=tif, limit_price=D(price))


def market_buy(cid: str, symbol: str = "AAPL", qty: int = 10) -> OrderRequest:
    return OrderRequest(client_order_id=cid, symbol=symbol, side="buy", qty=D(qty),
                        order_type="market", time_in_force="day")


def make_broker(ex: PaperExchange, *, sleeps: list[float] | None = None,
                sleep: Any = None, **env: str) -> AlpacaBroker:
    settings = load_settings(exchange_env(ex, **env), need_broker=True)
    if sleep is None:
        sleep = sleeps.append if sleeps is not None else time.sleep
    return AlpacaBroker(settings, budget=RequestBudget(100_000), sleep=sleep)


def url_of(client: Any) -> str:
    base = client._base_url
    return str(getattr(base, "value", base))


def with_client_id(ctl: Any, cid: str) -> list[dict[str, Any]]:
    return [o for o in ctl.orders() if o["client_order_id"] == cid]


@pytest.fixture
def ctl(exchange):
    return exchange.control


# -- every method returns our value objects with Decimal money ----------------------------


def test_get_account(broker):
    account = broker.get_account()
    assert isinstance(account, BrokerAccount)
    assert account.equity == D("100000") and isinstance(account.equity, Decimal)
    assert account.cash == D("100000") and isinstance(account.cash, Decimal)
    assert isinstance(account.buying_power, Decimal) and account.buying_power > 0
    assert isinstance(account.last_equity, Decimal)
    assert account.trading_blocked is False and account.account_blocked is False
    assert account.status == "ACTIVE"


def test_get_positions_after_a_market_fill(broker, ctl):
    assert broker.get_positions() == []
    order = broker.submit_order(market_buy("fill-1", qty=10))
    assert order.client_order_id == "fill-1" and order.qty == D(10)
    positions = broker.get_positions()
    assert len(positions) == 1
    p = positions[0]
    assert isinstance(p, BrokerPosition)
    assert p.symbol == "AAPL" and p.qty == D(10) and p.side == "long"
    assert p.avg_entry_price == D("180") and isinstance(p.avg_entry_price, Decimal)
    assert p.market_value == D("1800") and p.unrealized_pl == D("0")
    filled = broker.get_order(order.id)
    assert filled.status == "filled" and filled.filled_qty == D(10)
    assert filled.filled_avg_price == D("180")
    account = broker.get_account()
    assert account.cash == D("98200")


def test_short_position_has_negative_qty(broker):
    broker.submit_order(OrderRequest("short-1", "TSLA", "sell", D(4), "market", "day"))
    (p,) = broker.get_positions()
    assert p.symbol == "TSLA" and p.qty == D(-4) and p.side == "short"


def test_get_clock(broker):
    clock = broker.get_clock()
    assert isinstance(clock, MarketClock)
    assert clock.is_open is True
    assert clock.timestamp == MARKET_OPEN
    assert clock.next_close > clock.timestamp and clock.next_open > clock.next_close


def test_get_calendar_skips_holidays_and_knows_early_closes(broker):
    days = broker.get_calendar(date(2026, 11, 23), date(2026, 11, 27))
    assert all(isinstance(d, CalendarDay) for d in days)
    # Thanksgiving (Thu 26th) is closed; the Friday after closes at 13:00
    assert [d.date for d in days] == [date(2026, 11, 23), date(2026, 11, 24),
                                      date(2026, 11, 25), date(2026, 11, 27)]
    assert days[0].open.hour == 9 and days[0].open.minute == 30 and days[0].close.hour == 16
    assert days[-1].close.hour == 13


def test_get_asset_known_unknown_and_halted(broker):
    aapl = broker.get_asset("AAPL")
    assert isinstance(aapl, BrokerAsset)
    assert aapl.symbol == "AAPL" and aapl.tradable is True and aapl.status == "active"
    assert aapl.problem() is None
    assert broker.get_asset("NOSUCH") is None
    halt = broker.get_asset("HALT")
    assert halt is not None and halt.tradable is False
    assert halt.problem() == "HALT is not tradable at the broker"


def test_latest_prices_in_one_request(broker, ctl):
    ctl.reset_counters()
    prices = broker.latest_prices(["AAPL", "MSFT", "NVDA", "AAPL", "SPY"])
    assert prices == {"AAPL": D("180"), "MSFT": D("420"), "NVDA": D("130"), "SPY": D("600")}
    assert all(isinstance(v, Decimal) for v in prices.values())
    assert ctl.counters() == {"GET /v2/stocks/trades/latest": 1}
    assert broker.latest_prices([]) == {}
    assert ctl.counters() == {"GET /v2/stocks/trades/latest": 1}


def test_latest_prices_keeps_cents_exact(broker, ctl):
    ctl.set_prices({"AMD": "151.37", "TSLA": "0.1"})
    assert broker.latest_prices(["AMD", "TSLA"]) == {"AMD": D("151.37"), "TSLA": D("0.1")}


def test_submit_simple_limit_order(broker, ctl):
    order = broker.submit_order(limit_buy("lim-1", qty=3, price="175.50"))
    assert isinstance(order, BrokerOrder)
    assert order.client_order_id == "lim-1" and order.symbol == "AAPL" and order.side == "buy"
    assert order.qty == D(3) and order.order_type == "limit" and order.order_class == "simple"
    assert order.limit_price == D("175.50") and order.time_in_force == "day"
    assert order.status in ("new", "accepted") and order.filled_qty == 0
    assert order.legs == ()
    (held,) = ctl.orders()
    assert held["id"] == order.id and held["limit_price"] == "175.5"


def test_submit_bracket_has_legs_via_get_order(broker):
    req = OrderRequest("br-1", "MSFT", "buy", D(5), "limit", "gtc", limit_price=D("419.00"),
                       order_class="bracket", take_profit_limit=D("440.00"),
                       stop_loss_stop=D("400.00"))
    order = broker.submit_order(req)
    assert order.order_class == "bracket"
    fetched = broker.get_order(order.id)
    assert fetched is not None and fetched.id == order.id
    assert len(fetched.legs) == 2
    tp, sl = fetched.leg("limit"), fetched.leg("stop")
    assert tp is not None and tp.limit_price == D("440") and tp.side == "sell"
    assert sl is not None and sl.stop_price == D("400") and sl.side == "sell"
    assert tp.qty == sl.qty == D(5)
    assert {leg.status for leg in fetched.legs} == {"held"}


def test_get_order_and_by_client_id(broker):
    order = broker.submit_order(limit_buy("cid-1"))
    assert broker.get_order(order.id).client_order_id == "cid-1"
    found = broker.get_order_by_client_id("cid-1")
    assert found is not None and found.id == order.id
    assert broker.get_order_by_client_id("never-sent") is None
    assert broker.get_order("00000000-0000-4000-8000-000000000000") is None


def test_list_orders_submitted_since(broker, ctl):
    first = broker.submit_order(limit_buy("ch-1"))
    ctl.advance(60)
    second = broker.submit_order(OrderRequest(
        "ch-2", "NVDA", "buy", D(2), "limit", "gtc", limit_price=D("129.00"),
        order_class="bracket", take_profit_limit=D("140.00"), stop_loss_stop=D("120.00")))
    everything = broker.list_orders_submitted_since(MARKET_OPEN - timedelta(minutes=5))
    assert [o.client_order_id for o in everything] == ["ch-1", "ch-2"]  # oldest first
    assert len(everything[1].legs) == 2  # nested, legs not listed on their own
    later = broker.list_orders_submitted_since(first.submitted_at)
    assert [o.id for o in later] == [second.id]
    assert broker.list_orders_submitted_since(second.submitted_at) == []


def test_list_orders_submitted_since_pages_across_equal_timestamps(broker, ctl):
    session = requests.Session()
    session.headers.update(RAW_HEADERS)

    def post(i: int) -> None:
        resp = session.post(f"{ctl.url}/v2/orders", timeout=5, json={
            "symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "limit_price": "1.00",
            "time_in_force": "gtc", "client_order_id": f"pg-{i}"})
        assert resp.status_code == 200, resp.text

    for i in range(499):
        post(i)
    ctl.advance(60)
    post(499)  # the 500th row: the page ends here, on this timestamp
    post(500)  # same timestamp, first row of the second page
    assert len(ctl.orders()) == 501
    listed = broker.list_orders_submitted_since(MARKET_OPEN - timedelta(minutes=5))
    assert len({o.id for o in listed}) == 501


def test_fill_activities(broker):
    order = broker.submit_order(market_buy("act-1", qty=7))
    fills = broker.fill_activities(MARKET_OPEN - timedelta(days=1))
    assert len(fills) == 1
    (f,) = fills
    assert isinstance(f, FillActivity)
    assert f.order_id == order.id and f.symbol == "AAPL" and f.side == "buy"
    assert f.qty == D(7) and f.price == D("180")
    assert isinstance(f.qty, Decimal) and isinstance(f.price, Decimal)
    assert f.transaction_time == MARKET_OPEN and isinstance(f.transaction_time, datetime)
    assert broker.fill_activities(MARKET_OPEN) == []


def test_fill_activities_pages_past_one_hundred(broker, ctl):
    session = requests.Session()
    session.headers.update(RAW_HEADERS)
    for _ in range(101):
        resp = session.post(f"{ctl.url}/v2/orders", timeout=5, json={
            "symbol": "AMD", "qty": "1", "side": "buy", "type": "market",
            "time_in_force": "day"})
        assert resp.status_code == 200
    ctl.reset_counters()
    fills = broker.fill_activities(MARKET_OPEN - timedelta(days=1))
    assert len(fills) == 101 and len({f.id for f in fills}) == 101
    assert ctl.counters() == {"GET /v2/account/activities/{activity_type}": 2}


def test_cancel_order(broker, ctl):
    order = broker.submit_order(limit_buy("cx-1"))
    assert broker.cancel_order(order.id) is None
    assert broker.get_order(order.id).status == "canceled"
    assert with_client_id(ctl, "cx-1")[0]["status"] == "canceled"


def test_replace_order(broker, ctl):
    old = broker.submit_order(limit_buy("rp-1", qty=2, price="170.00"))
    new = broker.replace_order(old.id, qty=D(3), limit_price=D("171.25"))
    assert new.id != old.id
    assert new.replaces == old.id
    assert new.qty == D(3) and new.limit_price == D("171.25")
    again = broker.get_order(old.id)
    assert again.status == "replaced" and again.replaced_by == new.id
    assert broker.get_order(new.id).status in ("new", "accepted")
    assert len(ctl.orders()) == 2


def test_replace_with_lost_response_is_settled_by_reading_back(exchange, ctl):
    broker = make_broker(exchange, sleeps=[])
    old = broker.submit_order(limit_buy("rp-lost-1", price="170.00"))
    ctl.set_fault("PATCH /v2/orders/{id}", "lost_response", count=1)
    new = broker.replace_order(old.id, limit_price=D("171.00"))
    assert new.id != old.id and new.replaces == old.id and new.limit_price == D("171")
    assert ctl.counters()["PATCH /v2/orders/{id}"] == 1  # never re-sent
    assert broker.get_order(old.id).replaced_by == new.id
    assert len(ctl.orders()) == 2


def test_replace_server_error_leaves_the_old_order_working(exchange, ctl):
    broker = make_broker(exchange, sleeps=[])
    old = broker.submit_order(limit_buy("rp-503-1", price="170.00"))
    ctl.set_fault("PATCH /v2/orders/{id}", "http_status", status=503, count=1)
    with pytest.raises(TemporaryError):
        broker.replace_order(old.id, limit_price=D("171.00"))
    assert ctl.counters()["PATCH /v2/orders/{id}"] == 1
    again = broker.get_order(old.id)
    assert again.status in ("new", "accepted") and again.replaced_by is None
    assert len(ctl.orders()) == 1


def test_cancel_with_lost_response_is_not_a_rejection(exchange, ctl):
    broker = make_broker(exchange, sleeps=[])
    order = broker.submit_order(limit_buy("cx-lost-1"))
    ctl.set_fault("DELETE /v2/orders/{id}", "lost_response", count=1)
    try:
        broker.cancel_order(order.id)
    finally:
        assert broker.get_order(order.id).status == "canceled"


# -- transport: a timeout on every request; alpaca-py retries off --------------------------


def test_our_session_is_installed_in_both_clients(settings):
    session = BudgetedSession(RequestBudget(1000), 2.5)
    trading = get_trading_client(settings, session)
    data = get_data_client(settings, session)
    assert trading._session is session and data._session is session
    assert trading._retry == 0 and data._retry == 0
    broker = AlpacaBroker(settings, budget=RequestBudget(1000))
    broker.get_clock()
    broker.latest_prices(["AAPL"])
    assert broker.requests_sent == 2


def test_timeout_on_every_request(exchange, ctl):
    broker = make_broker(exchange, BROKER_TIMEOUT_SECONDS="0.3", BROKER_READ_RETRIES="0")
    ctl.set_fault("GET /v2/account", "hang", seconds=1.5, count=1)
    started = time.monotonic()
    with pytest.raises(TemporaryError) as err:
        broker.get_account()
    took = time.monotonic() - started
    assert took < 1.2, f"waited {took:.2f}s: the hang (1.5 s) was not cut off"
    assert "timed out" in str(err.value)
    assert ctl.counters() == {"GET /v2/account": 1}


def test_timed_out_read_is_retried(exchange, ctl):
    sleeps: list[float] = []
    broker = make_broker(exchange, sleeps=sleeps, BROKER_TIMEOUT_SECONDS="0.3",
                         BROKER_READ_RETRIES="2")
    ctl.set_fault("GET /v2/account", "hang", seconds=1.2, count=1)
    account = broker.get_account()
    assert account.cash == D("100000")
    assert ctl.counters() == {"GET /v2/account": 2}
    assert len(sleeps) == 1


def test_timeout_applies_to_submits_too(exchange, ctl):
    seen_at_sleep: list[dict[str, int]] = []
    broker = make_broker(exchange, sleep=lambda s: seen_at_sleep.append(ctl.counters()),
                         BROKER_TIMEOUT_SECONDS="0.3")
    ctl.set_fault("POST /v2/orders", "hang", seconds=1.0, count=1)
    started = time.monotonic()
    order = broker.submit_order(limit_buy("slow-1"))
    assert time.monotonic() - started < 0.9
    assert order.client_order_id == "slow-1"
    # the hung POST was looked up (not found yet) before the one resend
    assert seen_at_sleep == [{"POST /v2/orders": 1, "GET /v2/orders:by_client_order_id": 1}]
    assert ctl.counters()["POST /v2/orders"] == 2
    held = with_client_id(ctl, "slow-1")
    assert len(held) == 1 and held[0]["id"] == order.id


def test_lost_response_on_submit_is_settled_by_lookup(exchange, ctl):
    sleeps: list[float] = []
    broker = make_broker(exchange, sleeps=sleeps)
    ctl.set_fault("POST /v2/orders", "lost_response", count=1)
    order = broker.submit_order(limit_buy("lost-1"))
    assert order.client_order_id == "lost-1" and order.symbol == "AAPL"
    held = with_client_id(ctl, "lost-1")
    assert len(held) == 1 and held[0]["id"] == order.id
    assert len(ctl.orders()) == 1
    counters = ctl.counters()
    assert counters["POST /v2/orders"] == 1
    assert counters["GET /v2/orders:by_client_order_id"] >= 1


def test_504_on_submit_looks_up_before_a_second_post(exchange, ctl):
    seen_at_sleep: list[dict[str, int]] = []
    broker = make_broker(exchange, sleep=lambda s: seen_at_sleep.append(ctl.counters()))
    ctl.set_fault("POST /v2/orders", "http_status", status=504, count=1)
    order = broker.submit_order(limit_buy("gw-1"))
    # the only backoff sleep happens between the lookup and the second POST
    assert seen_at_sleep == [{"POST /v2/orders": 1, "GET /v2/orders:by_client_order_id": 1}]
    counters = ctl.counters()
    assert counters["GET /v2/orders:by_client_order_id"] >= 1
    assert counters["POST /v2/orders"] == 2
    held = with_client_id(ctl, "gw-1")
    assert len(held) == 1 and held[0]["id"] == order.id
    assert len(ctl.orders()) == 1


def test_persistent_500_on_submit_gives_up_without_an_order(exchange, ctl):
    sleeps: list[float] = []
    broker = make_broker(exchange, sleeps=sleeps)
    ctl.set_fault("POST /v2/orders", "http_status", status=500, count=50)
    with pytest.raises(TemporaryError) as err:
        broker.submit_order(limit_buy("down-1"))
    assert "not at the broker" in str(err.value) and "down-1" in str(err.value)
    assert ctl.orders() == []
    counters = ctl.counters()
    assert counters["POST /v2/orders"] <= 3
    assert counters["POST /v2/orders"] == 3  # submit_attempts
    assert counters["GET /v2/orders:by_client_order_id"] == 3  # before POSTs 2, 3 and at the end
    assert len(sleeps) == 2


def test_submit_attempts_is_honoured(exchange, ctl):
    settings = load_settings(exchange_env(exchange), need_broker=True)
    broker = AlpacaBroker(settings, budget=RequestBudget(100_000), submit_attempts=1,
                          sleep=lambda s: None)
    ctl.set_fault("POST /v2/orders", "http_status", status=503, count=50)
    with pytest.raises(TemporaryError):
        broker.submit_order(limit_buy("once-1"))
    assert ctl.counters()["POST /v2/orders"] == 1


def test_duplicate_client_order_id_returns_the_same_order(broker, ctl):
    req = limit_buy("dup-1", qty=2)
    first = broker.submit_order(req)
    second = broker.submit_order(req)
    assert first.id == second.id and second.client_order_id == "dup-1"
    assert len(ctl.orders()) == 1
    counters = ctl.counters()
    assert counters["POST /v2/orders"] == 2  # the second was refused as a duplicate
    assert counters["GET /v2/orders:by_client_order_id"] == 1


def test_retry_after_is_honoured(exchange, ctl):
    broker = make_broker(exchange)
    ctl.set_fault("GET /v2/account", "http_status", status=429, retry_after=1, count=1)
    started = time.monotonic()
    account = broker.get_account()
    took = time.monotonic() - started
    assert account.cash == D("100000")
    assert took >= 0.95, f"retried after {took:.2f}s, before Retry-After: 1"
    assert took < 3
    assert ctl.counters() == {"GET /v2/account": 2}


def test_429_without_retries_carries_retry_after(exchange, ctl):
    broker = make_broker(exchange, BROKER_READ_RETRIES="0")
    ctl.set_fault("GET /v2/clock", "http_status", status=429, retry_after=2, count=1)
    with pytest.raises(TemporaryError) as err:
        broker.get_clock()
    assert err.value.retry_after == 2.0
    assert ctl.counters() == {"GET /v2/clock": 1}  # alpaca-py did not retry it itself


# -- error classification ---------------------------------------------------------------


def test_wrong_keys_are_fatal():
    with PaperExchange(seed=1, start=MARKET_OPEN, rate_limit_per_min=None,
                       api_key="PKOTHERKEY", secret_key="other-secret").start() as ex:
        broker = make_broker(ex)
        with pytest.raises(FatalError) as err:
            broker.get_account()
        assert "401" in str(err.value)
        with pytest.raises(FatalError):
            broker.submit_order(limit_buy("nokeys-1"))
        assert ex.control.orders() == []


def test_beyond_buying_power_is_rejected(broker, ctl):
    with pytest.raises(RejectedError) as err:
        broker.submit_order(limit_buy("big-1", qty=10_000))
    assert not isinstance(err.value, (TemporaryError, FatalError))
    assert "buying power" in str(err.value)
    assert ctl.orders() == []
    assert ctl.counters()["POST /v2/orders"] == 1  # a rejection is never resent


def test_invalid_bracket_is_rejected(broker, ctl):
    req = OrderRequest("bad-br-1", "AAPL", "buy", D(1), "limit", "gtc", limit_price=D("179.00"),
                       order_class="bracket", take_profit_limit=D("170.00"),
                       stop_loss_stop=D("175.00"))
    with pytest.raises(RejectedError) as err:
        broker.submit_order(req)
    assert "take_profit" in str(err.value) and "422" in str(err.value)
    assert ctl.orders() == []


def test_cancelling_a_filled_order_is_rejected(broker):
    order = broker.submit_order(market_buy("done-1", qty=1))
    assert broker.get_order(order.id).status == "filled"
    with pytest.raises(RejectedError) as err:
        broker.cancel_order(order.id)
    assert "filled" in str(err.value)
    assert broker.get_order(order.id).status == "filled"


def test_cancelling_an_unknown_order_is_not_found(broker):
    with pytest.raises(NotFoundError) as err:
        broker.cancel_order("00000000-0000-4000-8000-000000000000")
    assert isinstance(err.value, RejectedError)


def test_halted_symbol_is_rejected(broker, ctl):
    with pytest.raises(RejectedError) as err:
        broker.submit_order(limit_buy("halt-1", symbol="HALT", price="10.00"))
    assert "not tradable" in str(err.value)
    assert ctl.orders() == []


# -- secrets --------------------------------------------------------------------------------


def test_secrets_never_in_logs_reprs_or_errors(exchange, ctl, caplog):
    caplog.set_level(logging.DEBUG)
    broker = make_broker(exchange, sleeps=[])
    errors: list[BaseException] = []
    ctl.set_fault("POST /v2/orders", "http_status", status=500, count=50)
    with pytest.raises(TemporaryError) as failed_submit:
        broker.submit_order(limit_buy("sec-1"))
    errors.append(failed_submit.value)
    ctl.clear_faults()
    with pytest.raises(RejectedError) as rejected:
        broker.submit_order(limit_buy("sec-2", qty=100_000))
    errors.append(rejected.value)
    with PaperExchange(seed=1, start=MARKET_OPEN, rate_limit_per_min=None,
                       api_key="PKOTHERKEY", secret_key="other-secret").start() as other:
        with pytest.raises(FatalError) as refused:
            make_broker(other).get_account()
        errors.append(refused.value)
    assert "submit of sec-1 unclear" in caplog.text  # the adapter's own logging did run
    texts = [caplog.text, repr(broker), str(broker), repr(broker._session)]
    texts += [str(e) for e in errors] + [repr(e) for e in errors]
    settings = load_settings(exchange_env(exchange), need_broker=True)
    texts += [repr(settings), str(settings)]
    for secret in (TEST_KEYS["ALPACA_API_KEY"], TEST_KEYS["ALPACA_SECRET_KEY"]):
        for text in texts:
            assert secret not in text
    assert repr(broker).startswith("AlpacaBroker(paper=True")


# -- paper by default; live only when confirmed ---------------------------------------------


KEYS_ONLY = {"ALPACA_API_KEY": "PKONLYKEYS", "ALPACA_SECRET_KEY": "only-secret"}


def test_paper_by_default():
    settings = load_settings(dict(KEYS_ONLY), need_broker=True)
    assert settings.alpaca_paper is True
    assert url_of(get_trading_client(settings)) == PAPER_URL
    assert AlpacaBroker(settings, budget=RequestBudget(10)).paper is True


def test_live_without_confirmation_is_a_config_error():
    with pytest.raises(ConfigError) as err:
        load_settings({**KEYS_ONLY, "ALPACA_PAPER": "false"}, need_broker=True)
    assert any(p.startswith("ALPACA_LIVE_TRADING_CONFIRMED") for p in err.value.problems)
    with pytest.raises(ConfigError):
        load_settings({**KEYS_ONLY, "ALPACA_PAPER": "false",
                       "ALPACA_LIVE_TRADING_CONFIRMED": "false"})


def test_live_settings_built_directly_still_refused():
    settings = Settings(ALPACA_API_KEY="k", ALPACA_SECRET_KEY="s", ALPACA_PAPER=False)
    with pytest.raises(FatalError):
        get_trading_client(settings)
    with pytest.raises(FatalError):
        AlpacaBroker(settings, budget=RequestBudget(10))


def test_live_when_confirmed():
    settings = load_settings({**KEYS_ONLY, "ALPACA_PAPER": "false",
                              "ALPACA_LIVE_TRADING_CONFIRMED": "true"}, need_broker=True)
    assert url_of(get_trading_client(settings)) == LIVE_URL
    assert AlpacaBroker(settings, budget=RequestBudget(10)).paper is False


# -- one request budget per process -------------------------------------------------------


def test_brokers_from_the_same_settings_share_one_budget(exchange, ctl):
    settings = load_settings(exchange_env(exchange, BROKER_REQUESTS_PER_MINUTE="98765",
                                          BROKER_READ_RETRIES="0"), need_broker=True)
    first, second = AlpacaBroker(settings), AlpacaBroker(settings)
    shared = shared_budget(98765)
    assert first._session.budget is second._session.budget is shared
    assert shared.per_minute == 98765
    # a pause set through one (a 429) holds back the other
    ctl.set_fault("GET /v2/clock", "http_status", status=429, retry_after=1, count=1)
    with pytest.raises(TemporaryError):
        first.get_clock()
    started = time.monotonic()
    second.get_clock()
    assert time.monotonic() - started >= 0.9
    assert first.requests_sent == 1 and second.requests_sent == 1
    explicit = AlpacaBroker(settings, budget=RequestBudget(98765))
    assert explicit._session.budget is not shared
