"""Pre-trade risk rules (trading_monitor.domain.risk): pure functions, no broker, no database."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest

from trading_monitor.domain.decision import (
    Decision,
    DecisionInvalid,
    is_valid_tick,
    parse_decision,
)
from trading_monitor.domain.risk import (
    AccountView,
    RiskLimits,
    daily_loss,
    entry_rejection,
    price_problem,
)

D = Decimal


def decision(ticker: str = "AAPL", **plan: Any) -> Decision:
    body = {"side": "buy", "trade_style": "SWING", "entry_price": "100.00",
            "stop_loss": "95.00", "take_profit": "110.00", "quantity": 10}
    body.update(plan)
    body = {k: v for k, v in body.items() if v is not None}
    return parse_decision({"id": 1, "ticker": ticker, "primary_action": "NEW_TRADE",
                           "decision": body})


# 10 x 100 = 1000 notional per default decision
ALL_ON = RiskLimits(max_notional_per_order=D("5000"), max_open_positions=3,
                    max_total_exposure=D("20000"), max_daily_loss=D("1000"),
                    check_buying_power=True, check_price_consistency=True,
                    block_duplicate_entry=True, block_same_day_reentry=True,
                    reject_day_orders_when_closed=True)
ALL_OFF = RiskLimits(max_notional_per_order=None, max_open_positions=None,
                     max_total_exposure=None, max_daily_loss=None, check_buying_power=False,
                     check_price_consistency=False, block_duplicate_entry=False,
                     block_same_day_reentry=False, reject_day_orders_when_closed=False)
VIEW = AccountView(equity=D("50000"), buying_power=D("50000"), start_of_day_equity=D("50000"))


# -- price_problem ------------------------------------------------------------------------


def test_consistent_buy_and_sell_have_no_problem():
    assert price_problem(decision()) is None
    assert price_problem(decision(side="sell", stop_loss="105", take_profit="90")) is None
    assert price_problem(decision(trade_style="DAYTRADE", take_profit=None)) is None


@pytest.mark.parametrize("stop", ["100.00", "101.00"])
def test_stop_on_wrong_side_for_buy(stop):
    assert price_problem(decision(stop_loss=stop)) == (
        f"stop_loss {D(stop)} must be below entry 100.00 for a buy")


@pytest.mark.parametrize("stop", ["100.00", "99.00"])
def test_stop_on_wrong_side_for_sell(stop):
    assert price_problem(decision(side="short", stop_loss=stop, take_profit="90")) == (
        f"stop_loss {D(stop)} must be above entry 100.00 for a sell")


def test_take_profit_on_wrong_side():
    assert price_problem(decision(take_profit="99.99")) == (
        "take_profit 99.99 must be above entry 100.00 for a buy")
    assert price_problem(decision(take_profit="100.00")) == (
        "take_profit 100.00 must be above entry 100.00 for a buy")
    assert price_problem(decision(side="sell", stop_loss="105", take_profit="100.01")) == (
        "take_profit 100.01 must be below entry 100.00 for a sell")


@pytest.mark.parametrize(("field", "value"), [
    ("entry_price", "100.005"), ("stop_loss", "95.001"), ("take_profit", "110.0001"),
])
def test_sub_penny_at_one_dollar_and_above(field, value):
    # The contract refuses an off-tick price as written: never rounded, never sent.
    with pytest.raises(DecisionInvalid, match=f"{field}: {value} is not on Alpaca's tick"):
        decision(**{field: value})


def test_four_decimals_allowed_below_one_dollar():
    d = decision(entry_price="0.5123", stop_loss="0.4501", take_profit="0.6999", quantity=100)
    assert price_problem(d) is None
    with pytest.raises(DecisionInvalid, match="entry_price: 0.51234 is not on Alpaca's tick"):
        decision(entry_price="0.51234", stop_loss="0.45", take_profit="0.70", quantity=100)


@pytest.mark.parametrize(("price", "ok"), [
    ("1.00", True), ("1.01", True), ("1.005", False), ("0.9999", True), ("0.99995", False),
    ("250", True), ("0.0001", True),
])
def test_is_valid_tick(price, ok):
    assert is_valid_tick(D(price)) is ok


def test_zero_quantity_from_risk_sizing():
    # risk 3 over 5.00 per share floors to 0 shares
    d = decision(quantity=None, risk_amount="3")
    assert d.order_quantity == 0
    assert price_problem(d) == "quantity must be positive (got 0)"


def test_zero_and_negative_explicit_quantity():
    for qty in (0, -5):
        with pytest.raises(DecisionInvalid, match="quantity: Input should be greater than 0"):
            decision(quantity=qty)


def test_absurd_quantity_is_a_reason_not_a_crash():
    with pytest.raises(DecisionInvalid, match="quantity: Input should be less than or equal"):
        decision(quantity="1e30")


# -- entry_rejection: each limit, with a readable reason ----------------------------------


def test_everything_on_and_within_limits_passes():
    assert entry_rejection(decision(), ALL_ON, VIEW) is None


def test_max_notional_per_order():
    d = decision(quantity=60)  # 6000 > 5000
    assert entry_rejection(d, ALL_ON, VIEW) == (
        "order notional 6000.00 exceeds MAX_NOTIONAL_PER_ORDER 5000")
    assert entry_rejection(decision(quantity=50), ALL_ON, VIEW) is None  # exactly at the limit
    assert entry_rejection(d, dataclasses.replace(ALL_ON, max_notional_per_order=None),
                           VIEW) is None


def test_max_open_positions():
    view = dataclasses.replace(VIEW, open_symbols=frozenset({"MSFT", "NVDA", "TSLA"}),
                               open_count=3)
    assert entry_rejection(decision(), ALL_ON, view) == "max open positions reached (3 of 3)"
    assert entry_rejection(decision(), dataclasses.replace(ALL_ON, max_open_positions=None),
                           view) is None
    assert entry_rejection(decision(), dataclasses.replace(ALL_ON, max_open_positions=4),
                           view) is None


def test_max_total_exposure():
    view = dataclasses.replace(VIEW, exposure=D("19500"))
    assert entry_rejection(decision(), ALL_ON, view) == (
        "total exposure 20500.00 would exceed MAX_TOTAL_EXPOSURE 20000")
    assert entry_rejection(decision(), ALL_ON, dataclasses.replace(view, exposure=D("19000"))
                           ) is None  # lands exactly on the limit
    assert entry_rejection(decision(), dataclasses.replace(ALL_ON, max_total_exposure=None),
                           view) is None


def test_buying_power():
    view = dataclasses.replace(VIEW, buying_power=D("999.99"))
    assert entry_rejection(decision(), ALL_ON, view) == (
        "insufficient buying power: order needs 1000.00, account has 999.99")
    assert entry_rejection(decision(), dataclasses.replace(ALL_ON, check_buying_power=False),
                           view) is None


def test_duplicate_entry():
    view = dataclasses.replace(VIEW, open_symbols=frozenset({"AAPL"}), open_count=1)
    assert entry_rejection(decision(), ALL_ON, view) == (
        "duplicate entry: AAPL already has an open trade or position")
    assert entry_rejection(decision(), dataclasses.replace(ALL_ON, block_duplicate_entry=False),
                           view) is None
    assert entry_rejection(decision("MSFT"), ALL_ON, view) is None


def test_same_day_reentry():
    view = dataclasses.replace(VIEW, closed_today=frozenset({"AAPL"}))
    assert entry_rejection(decision(), ALL_ON, view) == (
        "re-entry blocked: AAPL was closed earlier today")
    assert entry_rejection(decision(), dataclasses.replace(ALL_ON, block_same_day_reentry=False),
                           view) is None


def test_daily_loss_from_start_of_day_equity():
    view = dataclasses.replace(VIEW, equity=D("49000"))
    assert daily_loss(view) == D("1000")
    assert entry_rejection(decision(), ALL_ON, view) == (
        "daily loss limit reached: down 1000.00 from start-of-day equity 50000 (limit 1000)")
    # just under the limit passes; a gain is no loss
    assert entry_rejection(decision(), ALL_ON, dataclasses.replace(VIEW, equity=D("49000.01"))
                           ) is None
    assert daily_loss(dataclasses.replace(VIEW, equity=D("51000"))) == D("-1000")
    assert entry_rejection(decision(), dataclasses.replace(ALL_ON, max_daily_loss=None),
                           view) is None


def test_daily_loss_unknown_without_start_of_day_equity():
    view = dataclasses.replace(VIEW, equity=D("1"), start_of_day_equity=None)
    assert daily_loss(view) == 0
    assert entry_rejection(decision(), dataclasses.replace(ALL_ON, check_buying_power=False),
                           view) is None


def test_halted_always_rejects():
    view = dataclasses.replace(VIEW, halted_reason="TRADING_HALTED is set")
    assert entry_rejection(decision(), ALL_ON, view) == "trading halted: TRADING_HALTED is set"
    # no setting switches this off: it is the kill switch
    assert entry_rejection(decision(), ALL_OFF, view) == "trading halted: TRADING_HALTED is set"
    assert entry_rejection(decision(), ALL_ON, view, replacing=True) == (
        "trading halted: TRADING_HALTED is set")


@pytest.mark.parametrize("problem", ["asset ZZZZ not found at the broker",
                                     "HALT is not tradable at the broker"])
def test_asset_problems(problem):
    ticker = "ZZZZ" if "ZZZZ" in problem else "HALT"
    view = dataclasses.replace(VIEW, asset_problems={ticker: problem, "AAPL": None})
    assert entry_rejection(decision(ticker), ALL_ON, view) == problem
    assert entry_rejection(decision(ticker), ALL_OFF, view) == problem
    assert entry_rejection(decision("AAPL"), ALL_ON, view) is None


def test_day_order_while_market_closed_when_configured():
    closed = dataclasses.replace(VIEW, market_open=False)
    day = decision(trade_style="DAYTRADE", take_profit=None)
    assert entry_rejection(day, ALL_ON, closed) == (
        "market is closed and REJECT_DAY_ORDERS_WHEN_CLOSED is set (day order)")
    # gtc orders, open markets, or the setting off: all pass
    assert entry_rejection(decision(time_in_force="gtc"), ALL_ON, closed) is None
    assert entry_rejection(decision(trade_style="SWING"), ALL_ON, closed) is not None  # day
    assert entry_rejection(day, ALL_ON, VIEW) is None
    assert entry_rejection(day, dataclasses.replace(ALL_ON, reject_day_orders_when_closed=False),
                           closed) is None


def test_inconsistent_prices_and_switch():
    d = decision(stop_loss="105")
    assert entry_rejection(d, ALL_ON, VIEW) == (
        "inconsistent prices: stop_loss 105 must be below entry 100.00 for a buy")
    assert entry_rejection(d, dataclasses.replace(ALL_ON, check_price_consistency=False),
                           VIEW) is None


def test_all_switched_off_passes_everything_but_halt_and_assets():
    view = AccountView(equity=D("1"), buying_power=D("0"), start_of_day_equity=D("100000"),
                       open_symbols=frozenset({"AAPL", "MSFT"}), open_count=99,
                       exposure=D("10000000"), closed_today=frozenset({"AAPL"}),
                       market_open=False)
    d = decision(quantity=100000, stop_loss="200", trade_style="DAYTRADE", take_profit=None)
    assert entry_rejection(d, ALL_OFF, view) is None
    assert entry_rejection(d, ALL_ON, view) is not None


def test_first_failing_rule_is_reported():
    view = dataclasses.replace(VIEW, equity=D("40000"), open_symbols=frozenset({"AAPL"}),
                               buying_power=D("0"))
    assert entry_rejection(decision(), ALL_ON, view).startswith("daily loss limit reached")


# -- replacing=True (AMEND) --------------------------------------------------------------


def test_replacing_skips_duplicate_reentry_and_count_checks():
    view = dataclasses.replace(VIEW, open_symbols=frozenset({"AAPL", "MSFT", "NVDA"}),
                               open_count=3, closed_today=frozenset({"AAPL"}))
    assert entry_rejection(decision(), ALL_ON, view) is not None
    assert entry_rejection(decision(), ALL_ON, view, replacing=True) is None


def test_replacing_still_checks_money_limits():
    view = dataclasses.replace(VIEW, open_symbols=frozenset({"AAPL"}), open_count=1)
    assert entry_rejection(decision(quantity=60), ALL_ON, view, replacing=True) == (
        "order notional 6000.00 exceeds MAX_NOTIONAL_PER_ORDER 5000")
    poor = dataclasses.replace(view, buying_power=D("10"))
    assert entry_rejection(decision(), ALL_ON, poor, replacing=True).startswith(
        "insufficient buying power")
    full = dataclasses.replace(view, exposure=D("19999"))
    assert entry_rejection(decision(), ALL_ON, full, replacing=True).startswith(
        "total exposure 20999.00")


# -- AccountView arithmetic: limits count earlier entries of the same run ------------------


def test_with_entry_arithmetic():
    v = VIEW.with_entry("AAPL", D("1000"))
    assert v.open_symbols == frozenset({"AAPL"}) and v.open_count == 1
    assert v.exposure == D("1000") and v.buying_power == D("49000")
    again = v.with_entry("AAPL", D("500"))  # same symbol: no new position
    assert again.open_count == 1 and again.exposure == D("1500")
    assert again.buying_power == D("48500")
    assert VIEW.open_count == 0 and VIEW.exposure == 0  # frozen: the original is untouched


def test_without_entry_arithmetic():
    v = VIEW.with_entry("AAPL", D("1000")).with_entry("MSFT", D("2000"))
    w = v.without_entry("AAPL", D("1000"))
    assert w.open_symbols == frozenset({"MSFT"}) and w.open_count == 1
    assert w.exposure == D("2000") and w.buying_power == D("48000")
    # unknown symbol: count unchanged; exposure never below zero
    x = w.without_entry("TSLA", D("5000"))
    assert x.open_count == 1 and x.exposure == 0 and x.buying_power == D("53000")
    assert VIEW.without_entry("AAPL", D("1")).open_count == 0


def test_limits_count_earlier_entries_of_the_same_run():
    limits = dataclasses.replace(ALL_ON, max_open_positions=2, max_total_exposure=D("2500"))
    view = VIEW
    accepted = []
    for ticker in ("AAPL", "MSFT", "NVDA"):
        d = decision(ticker)
        reason = entry_rejection(d, limits, view)
        if reason is None:
            accepted.append(ticker)
            view = view.with_entry(d.ticker, d.notional)
        else:
            assert reason == "max open positions reached (2 of 2)"
    assert accepted == ["AAPL", "MSFT"]
    # the same symbol again in the run is a duplicate
    assert entry_rejection(decision("AAPL"), dataclasses.replace(limits, max_open_positions=9),
                           view) == "duplicate entry: AAPL already has an open trade or position"
    # exposure: 2000 taken, another 1000 would make 3000 > 2500
    assert entry_rejection(decision("TSLA"), dataclasses.replace(limits, max_open_positions=9),
                           view) == "total exposure 3000.00 would exceed MAX_TOTAL_EXPOSURE 2500"


def test_buying_power_counts_earlier_entries():
    view = dataclasses.replace(VIEW, buying_power=D("1500"))
    limits = dataclasses.replace(ALL_ON, max_total_exposure=None)
    assert entry_rejection(decision("AAPL"), limits, view) is None
    view = view.with_entry("AAPL", D("1000"))
    assert entry_rejection(decision("MSFT"), limits, view) == (
        "insufficient buying power: order needs 1000.00, account has 500.00")


def test_amend_frees_its_own_entry_first():
    limits = dataclasses.replace(ALL_ON, max_total_exposure=D("1500"))
    view = VIEW.with_entry("AAPL", D("1000"))
    bigger = decision(quantity=14)  # 1400
    assert entry_rejection(bigger, limits, view, replacing=True) is not None
    freed = view.without_entry("AAPL", D("1000"))
    assert entry_rejection(bigger, limits, freed, replacing=True) is None
