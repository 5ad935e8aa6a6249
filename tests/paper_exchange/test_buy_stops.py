"""Buy stops held as stop-limits (Orders at Alpaca, "Stop Orders"): the limit sits 4% above a
stop under $50, 2.5% above one at $50 and up; sell stops stay stops."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.paper_exchange.raw import get, patch, positions, post


@pytest.fixture(autouse=True)
def _price(ctl):  # type: ignore[no-untyped-def]
    ctl.set_prices({"AAPL": Decimal("100"), "AMD": Decimal("40")})


@pytest.mark.parametrize(("symbol", "stop", "limit"), [
    ("AAPL", "210", "215.25"),  # the page's own example: 2.5% above 210
    ("AAPL", "50", "51.25"),
    ("AMD", "49.99", "51.99"),  # 4% under $50: 51.9896 rounds to the cent
])
def test_a_buy_stop_shows_as_a_stop_limit(raw_client, symbol, stop, limit):
    order = post(raw_client, symbol=symbol, type="stop", stop_price=stop, qty=1)
    assert (order["type"], order["order_type"]) == ("stop_limit", "stop_limit")
    assert (order["stop_price"], order["limit_price"]) == (stop, limit)


def test_a_sell_stop_stays_a_stop(raw_client):
    post(raw_client, type="market", tif="day")
    order = post(raw_client, side="sell", type="stop", stop_price=95)
    assert (order["type"], order["limit_price"]) == ("stop", None)


def test_a_short_protective_stop_triggers_on_a_gap_up_and_rests(raw_client, ctl):
    post(raw_client, side="sell", type="market", tif="day")  # short 10 at 100
    stop = post(raw_client, type="stop", stop_price=105)  # limit 107.63
    ctl.set_price("AAPL", Decimal("110"))  # gaps through the limit
    assert get(raw_client, stop["id"])["status"] == "new"
    assert positions(raw_client) == {"AAPL": "-10"}
    ctl.set_price("AAPL", Decimal("107.5"))  # back under the limit: it fills there
    assert get(raw_client, stop["id"])["status"] == "filled"
    assert positions(raw_client) == {}


def test_switched_off_a_buy_stop_fills_at_the_gap(raw_client, ctl):
    assert ctl.set_rules(buy_stop_limit=False)["buy_stop_limit"] is False
    post(raw_client, side="sell", type="market", tif="day")
    stop = post(raw_client, type="stop", stop_price=105)
    assert stop["type"] == "stop"
    ctl.set_price("AAPL", Decimal("110"))
    done = get(raw_client, stop["id"])
    assert (done["status"], done["filled_avg_price"]) == ("filled", "110")


def test_bracket_stop_legs_follow_their_own_switch(raw_client, ctl):
    short = {"side": "sell", "type": "market", "tif": "gtc", "order_class": "bracket",
             "take_profit": {"limit_price": "90"}, "stop_loss": {"stop_price": "105"}}
    legs = post(raw_client, **short)["legs"]
    stop = next(leg for leg in legs if leg["stop_price"])
    assert (stop["type"], stop["limit_price"]) == ("stop", None)  # the default: plain only
    ctl.set_rules(buy_stop_limit_legs=True)
    legs = post(raw_client, qty=1, **short)["legs"]
    stop = next(leg for leg in legs if leg["stop_price"])
    assert (stop["type"], stop["limit_price"]) == ("stop_limit", "107.63")


def test_a_new_stop_price_moves_the_limit_with_it(raw_client):
    stop = post(raw_client, type="stop", stop_price=105, qty=1)
    new = patch(raw_client, stop["id"], stop_price=104)
    assert (new["type"], new["stop_price"], new["limit_price"]) == ("stop_limit", "104", "106.6")
