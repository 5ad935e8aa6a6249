"""Broker rules that bite (docs/paper-exchange.md, "Broker rules"): their switches, and the price
changes Alpaca makes to an order before it works (buy stops held as stop-limits, the collar on
market orders)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from trading_monitor.paper_exchange.market import Market
from trading_monitor.paper_exchange.orders import OrderSpec

CENT = Decimal("0.01")
SUB_DOLLAR = Decimal("0.0001")
# Orders at Alpaca, "Stop Orders": the limit is 4% above a stop under $50, 2.5% at $50 and up.
CHEAP_STOP_MARKUP, STOP_MARKUP, MARKUP_THRESHOLD = Decimal("0.04"), Decimal("0.025"), 50


@dataclass
class Rules:
    """The switches of POST /control/rules; a reset goes back to these defaults."""

    wash_trade: bool = True  # refuse an order that could trade with our own opposite order
    buy_stop_limit: bool = True  # plain buy stops are held as stop-limits
    buy_stop_limit_legs: bool = False  # ... and so are the buy stop legs of brackets/OTO/OCO
    market_collar_pct: Decimal | None = None  # market orders become limits this far out
    held_events: bool = False  # the stream sends `held` for legs created held

    def describe(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        pct = self.market_collar_pct
        out["market_collar_pct"] = None if pct is None else format(pct.normalize(), "f")
        return out

    def update(self, body: dict[str, Any]) -> None:
        """Apply the switches named in `body`; an unknown name or a bad value is a ValueError."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(body) - known)
        if unknown:
            raise ValueError(f"unknown rules: {', '.join(unknown)}; known: {sorted(known)}")
        parsed: dict[str, Any] = {}
        for name, value in body.items():
            if name == "market_collar_pct":
                parsed[name] = _percent(value)
            elif not isinstance(value, bool):
                raise ValueError(f"{name} must be true or false")
            else:
                parsed[name] = value
        for name, value in parsed.items():  # all or nothing: a bad value changes no switch
            setattr(self, name, value)


def _percent(value: Any) -> Decimal | None:
    if value is None or value is False:
        return None
    try:
        pct = Decimal(str(value))
    except ArithmeticError:
        raise ValueError(f"invalid market_collar_pct: {value}") from None
    if not pct.is_finite() or not 0 < pct < 100:
        raise ValueError("market_collar_pct must be between 0 and 100 (exclusive), or null")
    return pct


def tick(price: Decimal) -> Decimal:
    """Alpaca's price increment: cents from $1, four decimals below."""
    return price.quantize(CENT if price >= 1 else SUB_DOLLAR, ROUND_HALF_UP)


def buy_stop_limit_price(stop: Decimal) -> Decimal:
    markup = CHEAP_STOP_MARKUP if stop < MARKUP_THRESHOLD else STOP_MARKUP
    return tick(stop * (1 + markup))


def convert_buy_stops(rules: Rules, spec: OrderSpec) -> bool:
    """Hold a buy stop as a stop-limit, as Alpaca does; True if the order itself was converted
    (a converted leg is recorded on the spec's stop_loss_limit)."""
    if not rules.buy_stop_limit:
        return False
    if spec.order_class == "simple" and spec.side == "buy" and spec.type == "stop":
        assert spec.stop_price is not None
        spec.type, spec.limit_price = "stop_limit", buy_stop_limit_price(spec.stop_price)
        return True
    exit_side = spec.side if spec.order_class == "oco" else (
        "sell" if spec.side == "buy" else "buy")
    if (rules.buy_stop_limit_legs and spec.order_class != "simple" and exit_side == "buy"
            and spec.stop_loss_stop is not None and spec.stop_loss_limit is None):
        spec.stop_loss_limit = buy_stop_limit_price(spec.stop_loss_stop)
    return False


def collar(rules: Rules, market: Market, spec: OrderSpec) -> bool:
    """A market order priced as a limit `market_collar_pct` beyond the quote (buys: the ask,
    sells: the bid); True if the order was collared. Notional orders stay market orders."""
    pct = rules.market_collar_pct
    if pct is None or spec.type != "market" or spec.notional is not None:
        return False
    bid, ask, _ = market.quote(spec.symbol)
    base, sign = (ask, 1) if spec.side == "buy" else (bid, -1)
    spec.type, spec.limit_price = "limit", tick(base * (1 + sign * pct / 100))
    return True
