"""The decision contract: what n8n writes into analysis_decision, validated into one model.

Any malformed decision becomes a DecisionInvalid whose message a trader can act on.
See docs/decision-contract.md for the JSON and an example of each action.
"""

from __future__ import annotations

import json
import math
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from trading_monitor.domain.sides import Side


class DecisionInvalid(ValueError):
    """The decision cannot be carried out as written; the message says why."""


class Action(str, Enum):
    NEW_TRADE = "NEW_TRADE"
    CANCEL = "CANCEL"
    AMEND = "AMEND"
    NO_ACTION = "NO_ACTION"


class TradeStyle(str, Enum):
    DAYTRADE = "DAYTRADE"
    SWING = "SWING"


class TimeInForce(str, Enum):
    DAY = "day"
    GTC = "gtc"


MAX_PRICE = Decimal(10_000_000)
MAX_QUANTITY = Decimal(100_000_000)
MAX_RISK_AMOUNT = Decimal(1_000_000_000)
CENT = Decimal("0.01")
SUB_DOLLAR_TICK = Decimal("0.0001")

_SIDE_WORDS = {"buy": "buy", "long": "buy", "sell": "sell", "short": "sell"}


def _to_decimal(value: Any) -> Any:
    """Numbers arrive as JSON floats, ints or strings; floats go through str to stay exact."""
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return Decimal(repr(value))
    if isinstance(value, (int, str)):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError("must be a number") from None
        if not number.is_finite():
            raise ValueError("must be a finite number")
        return number
    raise ValueError("must be a number")


class Decision(BaseModel):
    """One validated decision. Field names are the keys of the decision JSON."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    decision_id: int
    ticker: str = Field(min_length=1, max_length=12, pattern=r"^[A-Z][A-Z0-9.\-/]{0,11}$")
    primary_action: Action
    side: Side | None = None
    trade_style: TradeStyle | None = None
    # Upper bounds keep absurd numbers out of the Decimal arithmetic that follows.
    entry_price: Decimal | None = Field(None, gt=0, le=MAX_PRICE)
    stop_loss: Decimal | None = Field(None, gt=0, le=MAX_PRICE)
    take_profit: Decimal | None = Field(None, gt=0, le=MAX_PRICE)
    quantity: Decimal | None = Field(None, gt=0, le=MAX_QUANTITY)
    risk_amount: Decimal | None = Field(None, gt=0, le=MAX_RISK_AMOUNT)
    risk_pct: Decimal | None = Field(None, gt=0, le=100)  # per cent of account equity
    time_in_force: TimeInForce | None = None
    existing_order_id: str | None = Field(None, max_length=128)
    existing_trade_journal_id: int | None = Field(None, gt=0)
    reasoning: str | None = None
    age: timedelta | None = None  # since analysis_decision.created_at, when the table has it

    @field_validator("ticker", mode="before")
    @classmethod
    def _upper_ticker(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("primary_action", "trade_style", mode="before")
    @classmethod
    def _upper_enum(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("side", mode="before")
    @classmethod
    def _side_words(cls, value: Any) -> Any:
        if isinstance(value, str):
            return _SIDE_WORDS.get(value.strip().lower(), value)
        return value

    @field_validator("time_in_force", mode="before")
    @classmethod
    def _lower_tif(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("entry_price", "stop_loss", "take_profit", "quantity", "risk_amount",
                     "risk_pct", mode="before")
    @classmethod
    def _numbers(cls, value: Any) -> Any:
        return _to_decimal(value)

    @field_validator("entry_price", "stop_loss", "take_profit")
    @classmethod
    def _on_tick(cls, value: Decimal | None) -> Decimal | None:
        # Never rounded for the trader: a price off the tick is refused as written.
        if value is not None and not is_valid_tick(value):
            raise ValueError(f"{value} is not on Alpaca's tick (0.01 at $1 and above, "
                             "0.0001 below)")
        return value

    @field_validator("existing_order_id", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @model_validator(mode="after")
    def _action_needs(self) -> Decision:
        if self.primary_action in (Action.NEW_TRADE, Action.AMEND):
            self._check_trade_plan()
        if self.primary_action in (Action.CANCEL, Action.AMEND) and not (
            self.existing_order_id or self.existing_trade_journal_id
        ):
            raise ValueError(
                f"{self.primary_action.value} needs existing_order_id or existing_trade_journal_id"
            )
        return self

    def _check_trade_plan(self) -> None:
        missing = [n for n in ("side", "trade_style", "entry_price", "stop_loss")
                   if getattr(self, n) is None]
        if missing:
            raise ValueError(f"{self.primary_action.value} needs {', '.join(missing)}")
        if self.trade_style is TradeStyle.SWING and self.take_profit is None:
            raise ValueError("a SWING trade needs take_profit")
        sizes = [n for n in ("quantity", "risk_amount", "risk_pct") if getattr(self, n) is not None]
        if len(sizes) != 1:
            raise ValueError("give exactly one of quantity, risk_amount or risk_pct")
        if self.quantity is not None and self.quantity != self.quantity.to_integral_value():
            raise ValueError("quantity must be a whole number of shares")

    def with_risk_budget(self, equity: Decimal) -> Decision:
        """This decision with risk_pct turned into the dollar risk_amount it means today."""
        if self.risk_pct is None:
            return self
        budget = (equity * self.risk_pct / 100).quantize(CENT, rounding="ROUND_FLOOR")
        return self.model_copy(update={"risk_amount": budget, "risk_pct": None})

    @property
    def order_quantity(self) -> Decimal:
        """Whole shares: the given quantity, or risk_amount over the per-share risk, floored.

        0 when the risk budget buys less than one share (the executor rejects it, with the
        figures); a risk_pct decision must be turned into a risk_amount first.
        """
        if self.quantity is not None:
            return self.quantity
        if self.risk_amount is None or not self.entry_price or not self.stop_loss:
            return Decimal(0)
        per_share = abs(self.entry_price - self.stop_loss)
        if per_share == 0:
            return Decimal(0)
        return (self.risk_amount / per_share).quantize(Decimal(1), rounding="ROUND_FLOOR")

    @property
    def order_time_in_force(self) -> TimeInForce:
        """The entry's time in force: DAY unless the decision asks for GTC, for both styles.

        Protection is another matter: a SWING position's stop is always GTC.
        """
        return self.time_in_force or TimeInForce.DAY

    @property
    def protection_time_in_force(self) -> TimeInForce:
        return TimeInForce.GTC if self.trade_style is TradeStyle.SWING else TimeInForce.DAY

    @property
    def notional(self) -> Decimal:
        return self.order_quantity * (self.entry_price or Decimal(0))


def _payload(row: dict[str, Any]) -> dict[str, Any]:
    raw = row.get("decision")
    if raw is None or raw == "":
        return {}
    if isinstance(raw, (bytes, bytearray)):
        raw = raw.decode("utf-8", "replace")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DecisionInvalid(f"decision JSON is not valid JSON ({exc.msg} at char {exc.pos})"
                                  ) from None
        except (ValueError, RecursionError) as exc:  # absurd nesting or number length
            what = ("nested too deeply" if isinstance(exc, RecursionError)
                    else "a number has too many digits")
            raise DecisionInvalid(f"decision JSON is not usable: {what}") from None
    if not isinstance(raw, dict):
        raise DecisionInvalid("decision JSON must be an object")
    return dict(raw)


def _merge_column(payload: dict[str, Any], row: dict[str, Any], key: str) -> None:
    column = row.get(key)
    if column in (None, ""):
        return
    current = payload.get(key)
    if current in (None, ""):
        payload[key] = column
    elif str(current).strip().upper() != str(column).strip().upper():
        raise DecisionInvalid(f"{key} column {column!r} disagrees with decision JSON {current!r}")


def parse_decision(row: dict[str, Any]) -> Decision:
    """Turn an analysis_decision row into a Decision, or raise DecisionInvalid with the reason."""
    payload = _payload(row)
    for key in ("ticker", "primary_action", "existing_order_id", "existing_trade_journal_id"):
        _merge_column(payload, row, key)
    payload["decision_id"] = row.get("id")
    age = row.get("decision_age")  # computed in SQL by the claim, from the job's clock
    payload["age"] = age if isinstance(age, timedelta) else None
    try:
        return Decision.model_validate(payload)
    except ValidationError as exc:
        raise DecisionInvalid(describe_errors(exc)) from None


def describe_errors(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{field}: {message}" if field else message)
    return "; ".join(parts)


def is_valid_tick(price: Decimal) -> bool:
    tick = CENT if price >= 1 else SUB_DOLLAR_TICK
    return price == price.quantize(tick)
