"""Corporate actions that end a security (mergers, spin-offs, worthless removals,
redemptions): listed with alpaca-py's models, applied at the effective date's pre-open."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from alpaca.data.historical.corporate_actions import CorporateActionsClient
from alpaca.data.requests import CorporateActionsRequest

from tests.paper_exchange.conftest import KEY, SECRET
from tests.paper_exchange.raw import get, positions, post

MONDAY_OPEN = datetime(2026, 11, 23, 14, 31, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _price(ctl):  # type: ignore[no-untyped-def]
    ctl.set_prices({"AAPL": Decimal("100"), "AMD": Decimal("10")})


def listed(exchange, group):  # type: ignore[no-untyped-def]
    client = CorporateActionsClient(KEY, SECRET, url_override=exchange.url)
    return client.get_corporate_actions(CorporateActionsRequest(
        symbols=["AAPL"], start=date(2026, 11, 20), end=date(2026, 11, 30))).data[group]


def test_a_worthless_removal_is_listed_then_removes_the_position(exchange, raw_client, ctl):
    post(raw_client, type="market", tif="day")
    stop = post(raw_client, side="sell", type="stop", stop_price=95)
    answer = ctl.corporate_action("worthless_removal", "AAPL", ex_date="2026-11-23")
    assert answer["status"] == "scheduled"
    (item,) = listed(exchange, "worthless_removals")
    assert (item.symbol, item.process_date) == ("AAPL", date(2026, 11, 23))
    assert positions(raw_client) == {"AAPL": "10"}
    cash = Decimal(raw_client.get("/account")["cash"])
    ctl.set_clock(MONDAY_OPEN)
    assert positions(raw_client) == {}
    assert get(raw_client, stop["id"])["status"] == "canceled"
    assert raw_client.get("/assets/AAPL")["tradable"] is False
    assert Decimal(raw_client.get("/account")["cash"]) == cash
    (reorg,) = raw_client.get("/account/activities/REORG")
    assert (reorg["symbol"], reorg["qty"], reorg["net_amount"]) == ("AAPL", "10", "0")


def test_a_cash_merger_pays_out_and_a_spin_off_adds_shares(exchange, raw_client, ctl):
    post(raw_client, type="market", tif="day")
    ctl.corporate_action("spin_off", "AAPL", new_symbol="APPS", old_rate=2, new_rate=1)
    assert positions(raw_client) == {"AAPL": "10", "APPS": "5"}
    (spin,) = listed(exchange, "spin_offs")
    assert (spin.source_symbol, spin.new_symbol, spin.new_rate) == ("AAPL", "APPS", 1)
    cash = Decimal(raw_client.get("/account")["cash"])
    ctl.corporate_action("cash_merger", "AAPL", rate="120", ex_date="2026-11-23")
    (merger,) = listed(exchange, "cash_mergers")
    assert (merger.acquiree_symbol, merger.rate) == ("AAPL", 120)
    ctl.set_clock(MONDAY_OPEN)
    assert positions(raw_client) == {"APPS": "5"}
    assert Decimal(raw_client.get("/account")["cash"]) == cash + 1200
    (ma,) = raw_client.get("/account/activities/MA")
    assert (ma["symbol"], ma["net_amount"]) == ("AAPL", "1200")


def test_a_stock_merger_exchanges_the_shares(exchange, raw_client, ctl):
    post(raw_client, type="market", tif="day", symbol="AMD", qty=30)
    ctl.corporate_action("stock_merger", "AMD", new_symbol="AAPL", old_rate=10, new_rate=1)
    assert positions(raw_client) == {"AAPL": "3"}
