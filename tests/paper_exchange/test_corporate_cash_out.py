"""A reverse split that pays the whole position in cash in lieu (1 share, 1-for-2): the
position is gone, a CIL activity pays the half share, and the bracket legs, scaled below one
share, are cancelled or left as they were (`under_one_share`; UNCONFIRMED at Alpaca)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from tests.paper_exchange.raw import get, positions, post

MONDAY_PRE_OPEN = datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc)  # 09:00 New York
BRACKET: dict[str, Any] = {"type": "market", "tif": "gtc", "order_class": "bracket",
           "take_profit": {"limit_price": "110"}, "stop_loss": {"stop_price": "95"}}


@pytest.fixture(autouse=True)
def _price(ctl):  # type: ignore[no-untyped-def]
    ctl.set_prices({"AAPL": Decimal("100")})


@pytest.mark.parametrize(("under_one_share", "stop", "limit"),
                         [(None, "canceled", "canceled"), ("left", "held", "new")])
def test_a_reverse_split_paying_the_whole_position_in_cash(raw_client, ctl, under_one_share,
                                                             stop, limit):
    bracket = post(raw_client, qty=1, **BRACKET)
    cash = Decimal(raw_client.get("/account")["cash"])
    params = {} if under_one_share is None else {"under_one_share": under_one_share}
    answer = ctl.corporate_action("reverse_split", "AAPL", old_rate=2, new_rate=1,
                                  ex_date="2026-11-23", cash_in_lieu_price="204", **params)
    ctl.set_clock(MONDAY_PRE_OPEN)  # applied at 04:00; the legs' prices are far below 200
    answer = ctl._call("GET", "/control/corporate_actions")[-1]
    assert positions(raw_client) == {}
    assert Decimal(raw_client.get("/account")["cash"]) == cash + 102  # 0.5 share at 204
    [cil] = raw_client.get("/account/activities", {"activity_types": "CIL"})
    assert (cil["symbol"], cil["qty"], cil["net_amount"]) == ("AAPL", "0.5", "102")
    legs = {leg["type"]: leg for leg in get(raw_client, bracket["id"], nested=True)["legs"]}
    assert {k: (v["status"], v["qty"], v.get("stop_price") or v["limit_price"])
            for k, v in legs.items()} == {"stop": (stop, "1", "95"),
                                          "limit": (limit, "1", "110")}
    assert sorted(answer["outcome"][stop if stop == "canceled" else "left"]) == \
        sorted(leg["id"] for leg in legs.values())


def test_a_leg_still_whole_after_the_split_is_not_cancelled(raw_client, ctl):
    bracket = post(raw_client, qty=3, **BRACKET)
    ctl.corporate_action("reverse_split", "AAPL", old_rate=2, new_rate=1,
                         ex_date="2026-11-23", cash_in_lieu_price="204")
    ctl.set_clock(MONDAY_PRE_OPEN)
    assert positions(raw_client) == {"AAPL": "1"}
    legs = get(raw_client, bracket["id"], nested=True)["legs"]
    assert {(leg["status"], leg["qty"]) for leg in legs} == {("held", "1"), ("new", "1")}
