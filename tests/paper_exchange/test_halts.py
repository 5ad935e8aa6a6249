"""Trading halts (POST /control/halt): no print while halted, orders rest, the reopening print
elects stops, which may be cancelled rather than filled (forum thread 5940)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from alpaca.data.requests import StockLatestTradeRequest

from tests.paper_exchange.conftest import wait_until
from tests.paper_exchange.raw import get, positions, post, refusal
from trading_monitor.paper_exchange import ControlError


@pytest.fixture(autouse=True)
def _price(ctl):  # type: ignore[no-untyped-def]
    ctl.set_price("AAPL", Decimal("100"))


def last_trade(raw_client, data_client, symbol="AAPL"):  # type: ignore[no-untyped-def]
    del raw_client
    return data_client.get_stock_latest_trade(
        StockLatestTradeRequest(symbol_or_symbols=symbol))[symbol].price


def tradable(raw_client, symbol="AAPL"):  # type: ignore[no-untyped-def]
    return raw_client.get(f"/assets/{symbol}")["tradable"]


def test_while_halted_nothing_prints_and_orders_rest(raw_client, data_client, ctl):
    ctl.set_rules(wash_trade=False)  # a buy and a sell stop rest together here
    post(raw_client, type="market", tif="day")  # long 10 at 100
    stop = post(raw_client, side="sell", type="stop", stop_price=95)
    answer = ctl.halt("AAPL")
    assert answer["halted"] is True and answer["queued_price"] is None
    ctl.set_price("AAPL", Decimal("90"))  # queued, not printed
    ctl.advance(600)
    assert last_trade(raw_client, data_client) == 100
    assert get(raw_client, stop["id"])["status"] == "new"
    buy = post(raw_client, limit_price=101, qty=1, symbol="AAPL", side="buy")
    assert get(raw_client, buy["id"])["status"] == "new"  # accepted; marketable, but rests
    assert tradable(raw_client) is True  # the default: a LULD-style pause
    assert ctl.state()["halts"][0]["queued_price"] == "90"
    ctl.halt("AAPL", False)  # reopens at the queued 90: the stop is elected and fills there
    assert last_trade(raw_client, data_client) == 90
    done = get(raw_client, stop["id"])
    assert (done["status"], done["filled_avg_price"]) == ("filled", "90")


def test_tradable_flips_when_asked(raw_client, ctl):
    ctl.halt("AAPL", tradable_flips=True)
    assert tradable(raw_client) is False
    assert post(raw_client, limit_price=99, qty=1)["status"] == "new"
    ctl.halt("AAPL", False)
    assert tradable(raw_client) is True


def test_a_stop_elected_by_the_reopening_print_may_be_cancelled(raw_client, ctl, stream):
    post(raw_client, type="market", tif="day")
    stop = post(raw_client, side="sell", type="stop", stop_price=95)
    ctl.halt("AAPL", cancel_elected_stops_at_reopen=True)
    ctl.set_price("AAPL", Decimal("63"))
    answer = ctl.halt("AAPL", False)
    assert answer["canceled_at_reopen"] == [stop["id"]]
    assert get(raw_client, stop["id"])["status"] == "canceled"
    assert positions(raw_client) == {"AAPL": "10"}  # unprotected, as in the forum thread
    wait_until(lambda: ("canceled", stop["id"]) in stream.events())


def test_a_reopen_without_a_new_price_changes_nothing(raw_client, ctl):
    post(raw_client, type="market", tif="day")
    stop = post(raw_client, side="sell", type="stop", stop_price=95)
    ctl.halt("AAPL", cancel_elected_stops_at_reopen=True)
    ctl.halt("AAPL", False)
    assert get(raw_client, stop["id"])["status"] == "new"
    assert ctl.state()["halts"] == []


def test_the_listed_not_tradable_asset_stays_so(raw_client, ctl):
    ctl.halt("HALT")
    ctl.halt("HALT", False)
    assert tradable(raw_client, "HALT") is False
    status, code, message = refusal(post, raw_client, symbol="HALT", limit_price=10, qty=1)
    assert (status, code, message) == (422, 40010001, "asset HALT is not tradable")


def test_halt_needs_a_known_symbol_and_a_flag(ctl):
    with pytest.raises(ControlError):
        ctl._call("POST", "/control/halt", {"symbol": "NOPE", "halted": True})
    with pytest.raises(ControlError):
        ctl._call("POST", "/control/halt", {"symbol": "AAPL"})
