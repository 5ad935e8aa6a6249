"""The fraction a reverse split leaves, on a short and on a long (docs/paper-exchange.md,
"Corporate actions"): settled as cash in lieu towards zero, so a short of 5 after a 1-for-2
reverse split is -2 shares and the account pays for the half share; without an announced
cash-in-lieu price a long keeps its fractional shares while a short's fraction is still
settled, at the split-adjusted last trade (Alpaca holds no fractional short position)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from tests.paper_exchange.raw import positions, post

MONDAY_PRE_OPEN = datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc)  # 09:00 New York


@pytest.fixture(autouse=True)
def _price(ctl):  # type: ignore[no-untyped-def]
    ctl.set_prices({"AAPL": Decimal("100")})


@pytest.mark.parametrize(("side", "cil_price", "qty", "cash", "cil"), [
    ("sell", "204", "-2", -102, ("-0.5", "-102", "204")),  # announced price
    ("sell", None, "-2", -100, ("-0.5", "-100", "200")),  # a short: at the last trade, 200
    ("buy", "204", "2", 102, ("0.5", "102", "204")),
    ("buy", None, "2.5", 0, None),  # a long keeps its fraction
])
def test_a_reverse_splits_fraction(raw_client, ctl, side, cil_price, qty, cash, cil):
    post(raw_client, qty=5, side=side, type="market", tif="day")
    before = Decimal(raw_client.get("/account")["cash"])
    params = {} if cil_price is None else {"cash_in_lieu_price": cil_price}
    ctl.corporate_action("reverse_split", "AAPL", old_rate=2, new_rate=1,
                         ex_date="2026-11-23", **params)
    ctl.set_clock(MONDAY_PRE_OPEN)
    assert positions(raw_client) == {"AAPL": qty}
    assert Decimal(raw_client.get("/account")["cash"]) == before + cash
    posted = raw_client.get("/account/activities", {"activity_types": "CIL"})
    assert [(a["qty"], a["net_amount"], a["price"]) for a in posted] == (
        [cil] if cil else [])
    [split] = raw_client.get("/account/activities", {"activity_types": "SPLIT"})
    assert split["qty"] == qty
