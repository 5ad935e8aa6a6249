"""Cash, equity, buying power and positions after fills; activities; position endpoints."""

from __future__ import annotations

from decimal import Decimal

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderStatus, PositionSide
from alpaca.trading.requests import (
    ClosePositionRequest,
    LimitOrderRequest,
    MarketOrderRequest,
)

from tests.paper_exchange.conftest import D


def buy(client, symbol="AAPL", qty=10, side="buy"):  # type: ignore[no-untyped-def]
    return client.submit_order(MarketOrderRequest(symbol=symbol, qty=qty, side=side,
                                                  time_in_force="day"))


def test_starting_account(client):
    account = client.get_account()
    assert D(account.cash) == D(account.equity) == D(account.buying_power) == 100000
    assert account.status == "ACTIVE" and account.currency == "USD"


def test_long_position_arithmetic(client, ctl):
    ctl.set_price("AAPL", Decimal("100"))
    buy(client, qty=10)
    ctl.set_price("AAPL", Decimal("110"))
    buy(client, qty=10)
    position = client.get_open_position("AAPL")
    assert D(position.qty) == 20 and position.side == PositionSide.LONG
    assert D(position.avg_entry_price) == 105 and D(position.cost_basis) == 2100
    assert D(position.market_value) == 2200 and D(position.unrealized_pl) == 100
    account = client.get_account()
    assert D(account.cash) == 100000 - 2100
    assert D(account.long_market_value) == 2200 and D(account.equity) == 100100
    assert D(account.buying_power) == D(account.cash)
    buy(client, qty=20, side="sell")
    assert client.get_all_positions() == []
    assert D(client.get_account().cash) == 100000 - 2100 + 2200


def test_short_position_arithmetic(client, ctl):
    ctl.set_price("MSFT", Decimal("400"))
    buy(client, "MSFT", qty=5, side="sell")
    position = client.get_open_position("MSFT")
    assert D(position.qty) == -5 and position.side == PositionSide.SHORT
    assert D(position.market_value) == -2000
    ctl.set_price("MSFT", Decimal("380"))
    position = client.get_open_position("MSFT")
    assert D(position.unrealized_pl) == 100
    account = client.get_account()
    assert D(account.cash) == 102000 and D(account.short_market_value) == -1900
    assert D(account.equity) == 100100
    assert D(account.buying_power) == 102000 - 2 * 1900
    buy(client, "MSFT", qty=5)
    assert D(client.get_account().equity) == 100100


def test_open_orders_reserve_buying_power(client, ctl):
    ctl.set_price("AAPL", Decimal("100"))
    client.submit_order(LimitOrderRequest(symbol="AAPL", qty=100, side="buy",
                                          time_in_force="gtc", limit_price=90))
    assert D(client.get_account().buying_power) == 100000 - 9000
    with pytest.raises(APIError) as err:
        client.submit_order(LimitOrderRequest(symbol="AAPL", qty=1000, side="buy",
                                              time_in_force="gtc", limit_price=95))
    assert err.value.status_code == 403 and err.value.message == "insufficient buying power"


def test_sell_more_than_long_is_refused(client, ctl):
    buy(client, qty=3)
    with pytest.raises(APIError) as err:
        buy(client, qty=5, side="sell")
    assert err.value.status_code == 403
    assert "insufficient qty available for order (requested: 5, available: 3)" in (
        err.value.message)


def test_close_position_variants(client, ctl):
    ctl.set_price("AAPL", Decimal("100"))
    buy(client, qty=10)
    half = client.close_position("AAPL", ClosePositionRequest(percentage="50"))
    assert half.side.value == "sell" and D(half.qty) == 5
    three = client.close_position("AAPL", ClosePositionRequest(qty="3"))
    assert D(three.qty) == 3
    rest = client.close_position("AAPL")
    assert D(rest.qty) == 2 and client.get_order_by_id(rest.id).status == OrderStatus.FILLED
    with pytest.raises(APIError) as err:
        client.get_open_position("AAPL")
    assert err.value.status_code == 404
    with pytest.raises(APIError) as err:
        client.close_position("AAPL")
    assert err.value.status_code == 404


def test_close_all_positions(client, ctl):
    buy(client, "AAPL", qty=1)
    buy(client, "MSFT", qty=1, side="sell")
    client.submit_order(LimitOrderRequest(symbol="NVDA", qty=1, side="buy",
                                          time_in_force="gtc", limit_price=1))
    results = client.close_all_positions(cancel_orders=True)
    assert sorted(r.symbol for r in results) == ["AAPL", "MSFT"]
    assert {r.status for r in results} == {200}
    assert client.get_all_positions() == [] and client.get_orders() == []


def test_position_by_asset_id(client, raw_client):
    buy(client, qty=1)
    # Today's asset body has no easy_to_borrow, which alpaca-py 0.44's Asset requires: raw.
    asset_id = raw_client.get("/assets/AAPL")["id"]
    assert client.get_open_position(asset_id).symbol == "AAPL"


def test_fill_activities_and_pagination(client, ctl):
    for qty in (1, 2, 3):
        buy(client, qty=qty)
        ctl.advance(1)
    # Today's activities carry no account_id, which alpaca-py 0.44 requires: read them raw.
    fills = client.get("/account/activities/FILL")
    assert [f["qty"] for f in fills] == ["3", "2", "1"]  # newest first by default
    assert all(f["activity_type"] == "FILL" and f["order_status"] == "filled" for f in fills)
    page1 = client.get("/account/activities", {"activity_types": "FILL", "page_size": 2,
                                               "direction": "asc"})
    page2 = client.get("/account/activities", {"activity_types": "FILL", "page_size": 2,
                                               "direction": "asc",
                                               "page_token": page1[-1]["id"]})
    assert [a["qty"] for a in page1 + page2] == ["1", "2", "3"]
    after = client.get("/account/activities/FILL", {"after": fills[1]["transaction_time"]})
    assert [a["qty"] for a in after] == ["3"]
    assert client.get("/account/activities/DIV") == []


def test_partial_fill_shows_in_activities(client, ctl):
    ctl.set_partial_fill(symbol="AAPL", ratio=Decimal("0.4"))
    order = buy(client, qty=10)
    assert client.get_order_by_id(order.id).status == OrderStatus.PARTIALLY_FILLED
    ctl.advance(1)
    kinds = [(a["type"], a["qty"]) for a in client.get("/account/activities/FILL",
                                                        {"direction": "asc"})]
    assert kinds == [("partial_fill", "4"), ("fill", "6")]
    ctl.set_partial_fill(symbol="AAPL", ratio=None)
    whole = buy(client, qty=10)
    assert client.get_order_by_id(whole.id).status == OrderStatus.FILLED


def test_position_lag(client, ctl):
    ctl.set_position_lag(seconds=30)
    order = buy(client, qty=1)
    assert client.get_order_by_id(order.id).status == OrderStatus.FILLED
    assert client.get_all_positions() == []  # the order says filled, positions do not yet
    ctl.advance(31)
    assert [p.symbol for p in client.get_all_positions()] == ["AAPL"]


def test_manual_close_by_trader(client, ctl):
    ctl.set_price("AAPL", Decimal("100"))
    buy(client, qty=4)
    manual = ctl.close_position_manually("AAPL")
    assert manual["side"] == "sell" and manual["qty"] == "4"
    assert client.get_all_positions() == []
    assert any(o["id"] == manual["id"] and o["status"] == "filled" for o in ctl.orders())


def test_fill_ids_sort_in_time_order_and_page_both_ways(client, ctl):
    ctl.set_price("AAPL", Decimal("100"))
    ctl.set_partial_fill(symbol="AAPL", ratio=Decimal("0.5"))
    order = buy(client, qty=4)  # partial now; all fills below share one simulated instant
    ctl.set_partial_fill(symbol="AAPL", ratio=None)
    for qty in (1, 2):
        buy(client, qty=qty)
    ctl.advance(1)  # the partial's remainder
    everything = client.get("/account/activities/FILL", {"direction": "asc"})
    ids = [a["id"] for a in everything]
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert all(len(i.split("::")[0]) == 17 for i in ids)  # YYYYMMDDHHMMSSmmm
    first = everything[0]
    assert (first["type"], first["qty"], first["cum_qty"], first["leaves_qty"],
            first["order_id"], first["side"], first["symbol"], first["price"]) == (
        "partial_fill", "2", "2", "2", str(order.id), "buy", "AAPL", "100")
    last = everything[-1]
    assert (last["type"], last["qty"], last["cum_qty"], last["leaves_qty"]) == (
        "fill", "2", "4", "0")

    def pages(direction: str) -> list[str]:
        seen: list[str] = []
        while True:
            params = {"direction": direction, "page_size": 1}
            if seen:
                params["page_token"] = seen[-1]
            page = client.get("/account/activities/FILL", params)
            if not page:
                return seen
            seen += [a["id"] for a in page]

    assert pages("asc") == ids and pages("desc") == ids[::-1]
    today = client.get("/account/activities/FILL", {"date": "2026-11-20"})
    assert len(today) == 4 and client.get("/account/activities/FILL", {"date": "2026-11-19"}) == []
    until = client.get("/account/activities/FILL", {"until": last["transaction_time"]})
    assert len(until) == 3
