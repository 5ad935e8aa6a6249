"""Wash-trade protection (Alpaca's "User Protection: Preventing Wash Trades" page), on by
default: an order that could trade with our own opposite-side order is 403."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.paper_exchange.conftest import wait_until
from tests.paper_exchange.raw import WASH, get, patch, post, refusal


@pytest.fixture(autouse=True)
def _price(ctl):  # type: ignore[no-untyped-def]
    ctl.set_price("AAPL", Decimal("100"))


def test_plain_sell_stop_against_our_working_buy_limit_is_refused(raw_client, ctl):
    # R8's case: a staged entry still works while a plain protective stop goes out.
    entry = post(raw_client, limit_price=99)
    assert refusal(post, raw_client, side="sell", type="stop", stop_price=95) == WASH
    assert get(raw_client, entry["id"])["status"] == "new"
    assert ctl.rules()["wash_trade"] is True


def test_market_buy_while_our_limit_sell_rests_is_refused(raw_client):
    post(raw_client, type="market", tif="day")  # a position to sell
    post(raw_client, side="sell", limit_price=110)
    assert refusal(post, raw_client, type="market", tif="day", qty=1) == WASH


@pytest.mark.parametrize(("buy", "sell", "refused"), [
    (99, 101, False), (99, 99, True), (99, "98.99", True)])
def test_two_limits_conflict_only_when_the_buy_reaches_the_sell(raw_client, buy, sell,
                                                                refused):
    post(raw_client, type="market", tif="day")
    post(raw_client, limit_price=buy, qty=1)
    if refused:
        assert refusal(post, raw_client, side="sell", limit_price=sell) == WASH
    else:
        assert post(raw_client, side="sell", limit_price=sell)["status"] == "new"


def test_a_stop_limit_is_priced_by_its_limit(raw_client):
    post(raw_client, type="market", tif="day")
    post(raw_client, limit_price=99, qty=1)
    ok = post(raw_client, side="sell", type="stop_limit", stop_price=95, limit_price=100)
    assert ok["status"] == "new"
    post(raw_client, side="buy", limit_price="99.5", qty=1, symbol="MSFT")  # other symbol
    assert refusal(post, raw_client, side="sell", type="stop_limit", stop_price=94,
                   limit_price=99) == WASH


def test_complex_orders_and_trailing_stops_are_exempt(raw_client):
    post(raw_client, side="sell", limit_price=120, qty=1)  # a plain limit sell rests
    bracket = post(raw_client, type="market", tif="gtc", order_class="bracket",
                   take_profit={"limit_price": "110"}, stop_loss={"stop_price": "95"})
    assert bracket["status"] == "new"
    trailing = post(raw_client, side="buy", type="trailing_stop", trail_percent=2, qty=1)
    assert trailing["status"] == "new"
    # The bracket's working take-profit (a sell limit at 110) does not count either.
    assert post(raw_client, limit_price=115, qty=1)["status"] == "new"


def test_an_oco_exit_is_exempt(raw_client):
    post(raw_client, type="market", tif="day")
    post(raw_client, limit_price=99, qty=1)
    oco = post(raw_client, side="sell", order_class="oco", take_profit={"limit_price": "110"},
               stop_loss={"stop_price": "95"})
    assert oco["status"] == "new"


def test_a_replacement_is_checked_too_and_the_stream_says_so(raw_client, ctl, stream):
    post(raw_client, type="market", tif="day")
    post(raw_client, limit_price=99, qty=1)
    sell = post(raw_client, side="sell", limit_price=101)
    assert refusal(patch, raw_client, sell["id"], limit_price=99) == WASH
    assert get(raw_client, sell["id"])["status"] == "new"
    wait_until(lambda: ("order_replace_rejected", sell["id"]) in stream.events())
    # An order never conflicts with the one it replaces.
    assert patch(raw_client, sell["id"], limit_price=102)["replaces"] == sell["id"]


def test_the_switch_turns_it_off(raw_client, ctl):
    post(raw_client, limit_price=99)
    assert ctl.set_rules(wash_trade=False)["wash_trade"] is False
    assert post(raw_client, side="sell", type="stop", stop_price=95, qty=1)["status"] == "new"
    ctl.reset()
    assert ctl.rules()["wash_trade"] is True  # a reset restores the default
