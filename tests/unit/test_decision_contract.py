"""The decision contract: parse_decision on analysis_decision rows (pure, plus hypothesis)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trading_monitor.domain.decision import (
    Action,
    Decision,
    DecisionInvalid,
    Side,
    TimeInForce,
    TradeStyle,
    parse_decision,
)

SWING = {"side": "buy", "trade_style": "SWING", "entry_price": 187.55, "stop_loss": 180.0,
         "take_profit": 200.0, "quantity": 10}
DAYTRADE = {"side": "sell", "trade_style": "DAYTRADE", "entry_price": "250.00",
            "stop_loss": "255.00", "risk_amount": 100}


def row(decision: Any = None, *, ticker: Any = "AAPL", action: Any = "NEW_TRADE",
        **columns: Any) -> dict[str, Any]:
    return {"id": 7, "ticker": ticker, "primary_action": action, "decision": decision,
            **columns}


def invalid(r: dict[str, Any]) -> str:
    with pytest.raises(DecisionInvalid) as err:
        parse_decision(r)
    return str(err.value)


# -- valid decisions, one of each action ---------------------------------------------------


def test_new_trade_swing_from_dict():
    d = parse_decision(row(SWING))
    assert isinstance(d, Decision)
    assert d.decision_id == 7 and d.ticker == "AAPL"
    assert d.primary_action is Action.NEW_TRADE and d.side is Side.BUY
    assert d.trade_style is TradeStyle.SWING
    assert d.entry_price == Decimal("187.55") and str(d.entry_price) == "187.55"
    assert d.stop_loss == Decimal("180") and d.take_profit == Decimal("200")
    assert d.order_quantity == Decimal(10)
    # The entry is a DAY order for both styles; a SWING position's protection is GTC.
    assert d.order_time_in_force is TimeInForce.DAY
    assert d.protection_time_in_force is TimeInForce.GTC
    assert d.notional == Decimal("1875.50")


@pytest.mark.parametrize("encode", [json.dumps, lambda v: json.dumps(v).encode()],
                         ids=["json-text", "bytes"])
def test_new_trade_from_json_text_and_bytes(encode):
    d = parse_decision(row(encode(SWING)))
    assert d.entry_price == Decimal("187.55")
    assert d.quantity == Decimal(10)


def test_new_trade_daytrade_sized_by_risk_amount():
    d = parse_decision(row(DAYTRADE, ticker="TSLA"))
    assert d.side is Side.SELL and d.trade_style is TradeStyle.DAYTRADE
    # 100 risk over 5.00 per share: exactly 20 shares
    assert d.order_quantity == Decimal(20)
    assert d.order_time_in_force is TimeInForce.DAY
    assert d.protection_time_in_force is TimeInForce.DAY
    assert d.take_profit is None


def test_risk_amount_sizing_floors_to_whole_shares():
    d = parse_decision(row({**DAYTRADE, "risk_amount": 100, "stop_loss": "253.00"}))
    # 100 / 3 = 33.33 -> 33, never rounded up
    assert d.order_quantity == Decimal(33)
    d = parse_decision(row({**DAYTRADE, "risk_amount": "99.99", "stop_loss": "255.00"}))
    assert d.order_quantity == Decimal(19)


def test_explicit_time_in_force_wins_over_style_default():
    d = parse_decision(row({**DAYTRADE, "time_in_force": " GTC "}))
    assert d.order_time_in_force is TimeInForce.GTC
    d = parse_decision(row({**SWING, "time_in_force": "day"}))
    assert d.order_time_in_force is TimeInForce.DAY


def test_cancel_with_existing_order_id_column():
    d = parse_decision(row({"reasoning": "thesis broken"}, action="CANCEL",
                           existing_order_id="abc-123"))
    assert d.primary_action is Action.CANCEL
    assert d.existing_order_id == "abc-123" and d.reasoning == "thesis broken"


def test_cancel_with_trade_journal_id_in_json():
    d = parse_decision(row({"existing_trade_journal_id": 42}, action="cancel"))
    assert d.primary_action is Action.CANCEL and d.existing_trade_journal_id == 42


def test_amend_needs_plan_and_existing_id():
    d = parse_decision(row({**SWING, "existing_order_id": "ord-1", "entry_price": "186.00"},
                           action="AMEND"))
    assert d.primary_action is Action.AMEND
    assert d.existing_order_id == "ord-1" and d.entry_price == Decimal("186.00")


def test_no_action_needs_nothing_but_ticker():
    d = parse_decision(row(None, action="NO_ACTION"))
    assert d.primary_action is Action.NO_ACTION and d.ticker == "AAPL"
    assert d.side is None and d.entry_price is None
    assert parse_decision(row("", action="NO_ACTION")).primary_action is Action.NO_ACTION


def test_action_and_ticker_may_come_from_the_json_only():
    d = parse_decision({"id": 3, "decision": {**SWING, "ticker": " msft ",
                                              "primary_action": "new_trade"}})
    assert d.ticker == "MSFT" and d.primary_action is Action.NEW_TRADE and d.decision_id == 3


@pytest.mark.parametrize(("word", "side"), [
    ("BUY", Side.BUY), ("buy", Side.BUY), ("long", Side.BUY), (" Long ", Side.BUY),
    ("SELL", Side.SELL), ("short", Side.SELL), ("Short", Side.SELL),
])
def test_side_words(word, side):
    assert parse_decision(row({**SWING, "side": word,
                               "stop_loss": 180.0 if side is Side.BUY else 190.0})).side is side


def test_ticker_upper_cased_and_matching_column_is_fine():
    d = parse_decision(row({**SWING, "ticker": "aapl"}, ticker="aapl"))
    assert d.ticker == "AAPL"


@pytest.mark.parametrize(("value", "expected"), [
    (187.55, "187.55"), (0.1, "0.1"), (0.1234, "0.1234"), ("187.550", "187.550"),
    (187, "187"), (" 42.5 ", "42.5"),
])
def test_float_prices_kept_exact(value, expected):
    d = parse_decision(row({**SWING, "entry_price": value, "stop_loss": 0.05,
                            "take_profit": 999}))
    assert d.entry_price == Decimal(expected)
    assert str(d.entry_price) == expected.strip()


# -- malformed decisions: each with a precise message -----------------------------------------


def test_invalid_json_text():
    msg = invalid(row('{"side": "buy",'))
    assert msg.startswith("decision JSON is not valid JSON")
    assert "at char" in msg


def test_invalid_json_bytes():
    assert "not valid JSON" in invalid(row(b"\xff\xfe not json"))


@pytest.mark.parametrize("raw", ["[1, 2]", "42", '"text"', "null", [1, 2], 3.5])
def test_non_object_json(raw):
    assert invalid(row(raw)) == "decision JSON must be an object"


def test_missing_stop_loss():
    plan = {k: v for k, v in SWING.items() if k != "stop_loss"}
    assert invalid(row(plan)) == "NEW_TRADE needs stop_loss"


def test_missing_several_fields_named_together():
    assert invalid(row({"quantity": 1})) == (
        "NEW_TRADE needs side, trade_style, entry_price, stop_loss")


def test_swing_without_take_profit():
    assert invalid(row({**SWING, "take_profit": None})) == "a SWING trade needs take_profit"


def test_both_quantity_and_risk_amount():
    assert invalid(row({**SWING, "risk_amount": 100})) == (
        "give exactly one of quantity, risk_amount or risk_pct")


def test_neither_quantity_nor_risk_amount():
    plan = {k: v for k, v in SWING.items() if k != "quantity"}
    assert invalid(row(plan)) == "give exactly one of quantity, risk_amount or risk_pct"


@pytest.mark.parametrize("qty", [1.5, "2.25", 0.001])
def test_fractional_quantity(qty):
    assert invalid(row({**SWING, "quantity": qty})) == (
        "quantity must be a whole number of shares")


@pytest.mark.parametrize("field", ["entry_price", "stop_loss", "take_profit", "risk_amount"])
@pytest.mark.parametrize("value", [0, -1, "-0.01", 0.0])
def test_zero_or_negative_price(field, value):
    plan = {**SWING, "quantity": None, "risk_amount": 50, field: value}
    msg = invalid(row(plan))
    assert msg.startswith(f"{field}: ")
    assert "greater than 0" in msg


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), "NaN",
                                   "Infinity", "-Infinity", "sNaN"])
def test_nan_and_infinity(value):
    assert invalid(row({**SWING, "entry_price": value})) == "entry_price: must be a finite number"


def test_nan_in_json_text():
    text = json.dumps({**SWING, "stop_loss": float("nan")})
    assert "NaN" in text  # Python's json writes the non-standard literal
    assert invalid(row(text)) == "stop_loss: must be a finite number"


@pytest.mark.parametrize("value", [True, False])
def test_boolean_as_price(value):
    assert invalid(row({**SWING, "entry_price": value})) == (
        "entry_price: must be a number, not true/false")


@pytest.mark.parametrize("value", ["abc", "", [1], {"v": 1}])
def test_non_numeric_price(value):
    assert invalid(row({**SWING, "take_profit": value})) == "take_profit: must be a number"


def test_unknown_action():
    msg = invalid(row(SWING, action="BUY_NOW"))
    assert msg.startswith("primary_action: ")
    assert "NEW_TRADE" in msg and "CANCEL" in msg


def test_unknown_side_and_style():
    msg = invalid(row({**SWING, "side": "sideways", "trade_style": "SCALP"}))
    assert "side: " in msg and "trade_style: " in msg


@pytest.mark.parametrize("action", ["CANCEL", "AMEND"])
def test_cancel_and_amend_without_existing_ids(action):
    plan = SWING if action == "AMEND" else {}
    assert invalid(row(plan, action=action)) == (
        f"{action} needs existing_order_id or existing_trade_journal_id")
    # a blank id is no id
    assert invalid(row(plan, action=action, existing_order_id="  ")) == (
        f"{action} needs existing_order_id or existing_trade_journal_id")


def test_ticker_column_disagreeing_with_json():
    assert invalid(row({**SWING, "ticker": "MSFT"})) == (
        "ticker column 'AAPL' disagrees with decision JSON 'MSFT'")


def test_action_column_disagreeing_with_json():
    assert invalid(row({"primary_action": "CANCEL", "existing_order_id": "x"},
                       action="NO_ACTION")) == (
        "primary_action column 'NO_ACTION' disagrees with decision JSON 'CANCEL'")


def test_missing_ticker_and_id():
    msg = invalid({"id": None, "decision": None})
    assert "decision_id: " in msg and "ticker: Field required" in msg
    assert "primary_action: Field required" in msg


@pytest.mark.parametrize("ticker", ["AA PL", "1ABC", "TOOLONGTICKER", "$"])
def test_bad_ticker(ticker):
    assert invalid(row(SWING, ticker=ticker)).startswith("ticker: ")


def test_deeply_nested_json_text_is_decision_invalid():
    assert "JSON" in invalid(row("[" * 100_000))


def test_huge_integer_in_json_text_is_decision_invalid():
    text = '{"entry_price": ' + "1" * 5000 + "}"
    with pytest.raises(ValueError) as err:
        parse_decision(row(text))
    assert type(err.value) is DecisionInvalid


# -- property: any row either parses or fails with DecisionInvalid --------------------------

json_scalars = (st.none() | st.booleans() | st.integers(-10**6, 10**6)
                | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
                | st.sampled_from(["buy", "SELL", "long", "short", "SWING", "DAYTRADE", "day",
                                   "gtc", "NEW_TRADE", "CANCEL", "AMEND", "NO_ACTION", "AAPL",
                                   "12.5", "1e3", "NaN", "-3", "0"]))
json_values = st.recursive(json_scalars, lambda children: st.lists(children, max_size=3)
                           | st.dictionaries(st.text(max_size=6), children, max_size=3),
                           max_leaves=8)
KEYS = ["ticker", "primary_action", "side", "trade_style", "entry_price", "stop_loss",
        "take_profit", "quantity", "risk_amount", "time_in_force", "existing_order_id",
        "existing_trade_journal_id", "reasoning", "decision_id"]
plans = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), json_values, max_size=10)
decisions = (plans | json_values
             | plans.map(lambda p: json.dumps(p))
             | plans.map(lambda p: json.dumps(p).encode())
             | st.text(max_size=40) | st.binary(max_size=40))
rows = st.fixed_dictionaries(
    {},
    optional={"id": json_values, "ticker": json_values, "primary_action": json_values,
              "existing_order_id": json_values, "existing_trade_journal_id": json_values,
              "decision": decisions},
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows)
def test_any_row_parses_or_is_decision_invalid(r):
    try:
        d = parse_decision(r)
    except DecisionInvalid as exc:
        assert str(exc).strip()
        return
    assert isinstance(d, Decision)
    assert d.ticker == d.ticker.upper()
    if d.primary_action in (Action.NEW_TRADE, Action.AMEND):
        assert d.entry_price is not None and d.stop_loss is not None
        sizes = (d.quantity, d.risk_amount, d.risk_pct)
        assert sum(v is not None for v in sizes) == 1


# Prices on Alpaca's tick, as JSON floats: whole cents (off-tick prices are refused).
_cents = st.integers(1, 1_000_000).map(lambda c: c / 100)


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries(
    {"side": st.sampled_from(["buy", "sell", "long", "short"]),
     "trade_style": st.sampled_from(["SWING", "DAYTRADE"]),
     "entry_price": st.one_of(_cents, st.integers(1, 10_000)),
     "stop_loss": st.one_of(_cents, st.integers(1, 10_000)),
     "take_profit": st.one_of(_cents, st.integers(1, 10_000)),
     "risk_amount": st.one_of(st.floats(0.01, 10_000), st.integers(1, 10_000))}))
def test_near_valid_plans_parse_with_exact_prices(plan):
    d = parse_decision(row(plan))
    assert d.entry_price == Decimal(repr(plan["entry_price"]))
    qty = d.order_quantity
    assert qty == qty.to_integral_value() and qty >= 0
    if qty > 0:
        assert qty * abs(d.entry_price - d.stop_loss) <= d.risk_amount


# -- ticks, sizes and risk_pct (executor hardening) ----------------------------------------

@pytest.mark.parametrize(("field", "value"), [
    ("entry_price", "187.555"), ("stop_loss", 180.001), ("take_profit", "200.0001"),
    ("entry_price", "0.12345"),
])
def test_prices_off_the_tick_are_refused_never_rounded(field, value):
    message = invalid(row({**SWING, field: value}))
    assert f"{field}: {value} is not on Alpaca's tick" in message


def test_sub_dollar_prices_take_four_decimals():
    d = parse_decision(row({**SWING, "entry_price": "0.1234", "stop_loss": "0.1001",
                            "take_profit": "0.2"}))
    assert d.entry_price == Decimal("0.1234")


@pytest.mark.parametrize("qty", [0, -3, "0"])
def test_quantity_must_be_positive(qty):
    assert "quantity: Input should be greater than 0" in invalid(row({**SWING, "quantity": qty}))


def test_risk_pct_sizes_from_equity():
    plan = {k: v for k, v in DAYTRADE.items() if k != "risk_amount"}
    d = parse_decision(row({**plan, "risk_pct": "0.5"}))  # 0.5% of equity at risk
    assert d.risk_pct == Decimal("0.5") and d.order_quantity == 0  # not sized yet
    sized = d.with_risk_budget(Decimal("100000"))
    # 500 risk over 5.00 per share: 100 shares
    assert (sized.risk_amount, sized.risk_pct, sized.order_quantity) == (
        Decimal("500.00"), None, Decimal(100))
    tiny = d.with_risk_budget(Decimal("100"))  # 0.50 of risk buys no share
    assert tiny.order_quantity == 0


def test_only_one_sizing_field():
    plan = {**DAYTRADE, "risk_pct": 1}
    assert invalid(row(plan)) == "give exactly one of quantity, risk_amount or risk_pct"
