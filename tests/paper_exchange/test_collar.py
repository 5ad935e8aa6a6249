"""The collar on market orders: off by default; when on, a market buy works as a limit the
collar above the ask and a market sell as a limit the collar below the bid."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from tests.paper_exchange.raw import get, post
from trading_monitor.paper_exchange import ControlError


@pytest.fixture(autouse=True)
def _quote(ctl):  # type: ignore[no-untyped-def]
    ctl.set_price("AAPL", Decimal("100"))
    ctl.set_quote("AAPL", "99.50", "100.50")


def test_off_by_default(raw_client, ctl):
    order = post(raw_client, type="market", tif="day")
    assert (order["type"], order["limit_price"]) == ("market", None)
    assert ctl.rules()["market_collar_pct"] is None


@pytest.mark.parametrize(("pct", "buy", "sell"), [("5", "105.53", "94.53"),
                                                  ("2", "102.51", "97.51")])
def test_a_market_order_becomes_a_limit_beyond_the_quote(raw_client, ctl, pct, buy, sell):
    assert ctl.set_rules(market_collar_pct=pct)["market_collar_pct"] == pct
    bought = post(raw_client, type="market", tif="day")
    assert (bought["type"], bought["limit_price"]) == ("limit", buy)
    assert get(raw_client, bought["id"])["status"] == "filled"  # 100 is inside the collar
    sold = post(raw_client, side="sell", type="market", tif="day")
    assert (sold["type"], sold["limit_price"]) == ("limit", sell)


def test_a_gap_beyond_the_collar_leaves_it_resting(raw_client, ctl):
    ctl.set_rules(market_collar_pct=2)
    ctl.advance(7 * 3600)  # closed: the order waits for the open
    order = post(raw_client, type="market", tif="day")
    ctl.set_price("AAPL", Decimal("110"))
    ctl.set_clock(datetime(2026, 11, 23, 14, 31, tzinfo=timezone.utc))  # Monday's open
    assert get(raw_client, order["id"])["status"] == "new"  # 110 is beyond its 102.51


def test_bad_percentages_are_refused(ctl):
    for bad in ("0", "100", "x", True):
        with pytest.raises(ControlError) as err:
            ctl.set_rules(market_collar_pct=bad)
        assert err.value.status == 422
    ctl.set_rules(market_collar_pct=None)


def test_unknown_rules_are_refused(ctl):
    with pytest.raises(ControlError):
        ctl.set_rules(wash_trades=False)
