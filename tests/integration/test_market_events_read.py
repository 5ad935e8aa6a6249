"""Reading Alpaca's corporate-action announcements (GET /v1/corporate-actions) through the
broker adapter, against the paper exchange, and the pure rules they feed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from trading_monitor.domain.corporate import parse_listing, split_qty
from trading_monitor.domain.ticks import nearest_tick, protective_stop

D = Decimal


def test_announcements_of_our_symbols_are_read_with_their_rates(broker, exchange):
    ctl = exchange.control
    ctl.corporate_action("forward_split", "AAPL", old_rate=1, new_rate=2, ex_date="2026-11-23")
    ctl.corporate_action("reverse_split", "AMD", old_rate=10, new_rate=1, new_symbol="AMDX",
                         ex_date="2026-11-24")
    ctl.corporate_action("name_change", "MSFT", new_symbol="MSFX", ex_date="2026-11-23")
    ctl.corporate_action("forward_split", "NVDA", old_rate=1, new_rate=4, ex_date="2026-11-23")
    found = broker.corporate_actions(["AAPL", "AMD", "MSFT"], date(2026, 11, 20),
                                     date(2026, 11, 23))
    got = {(a.kind, a.symbol, a.new_symbol, a.ratio, a.effective) for a in found}
    assert got == {("forward_split", "AAPL", None, D(2), date(2026, 11, 23)),
                   ("name_change", "MSFT", "MSFX", D(1), date(2026, 11, 23))}
    assert all(a.id for a in found)


def test_a_listing_is_read_tolerantly():
    body = {"corporate_actions": {
        "worthless_removals": [{"id": "w1", "symbol": "ZZZ", "cusip": "X",
                                "process_date": "2026-11-23", "new_field": 1}],
        "cash_dividends": [{"id": "c1", "symbol": "AAPL", "rate": 0.25,
                            "ex_date": "2026-11-23"}],
        "future_kind": [{"id": "f1"}],
        "cash_mergers": [{"id": "m1", "acquiree_symbol": "ABC", "rate": 10,
                          "effective_date": "2026-11-24", "process_date": "2026-11-24"}],
        "forward_splits": [{"id": "bad", "symbol": "X", "old_rate": 0, "new_rate": 2,
                            "ex_date": "2026-11-23"}]}, "next_page_token": None}
    found = {a.id: a for a in parse_listing(body)}
    assert set(found) == {"w1", "m1"}  # dividends block nothing; unknown kinds skipped
    assert found["w1"].ends and found["m1"].kind == "cash_merger"


def test_ticks_and_the_stop_rounding_that_never_adds_risk():
    assert protective_stop("buy", D("87.505")) == D("87.51")  # a long's stop rounds up
    assert protective_stop("sell", D("87.505")) == D("87.50")  # a short's rounds down
    assert protective_stop("buy", D("0.123456")) == D("0.1235")
    assert protective_stop("buy", D("0.99999")) == D("1.00")
    assert nearest_tick(D("19.555")) == D("19.56")
    assert split_qty(D("10.5")) == (D(10), D("0.5"))  # whole shares, the fraction
    assert split_qty(D("-10.5")) == (D(-10), D("-0.5"))  # towards zero for a short
