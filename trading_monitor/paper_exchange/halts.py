"""Trading halts (POST /control/halt): a symbol stops printing until it reopens.

While halted nothing of the symbol trades: its price (and so its quote) stands still, a price
given through the control API or a scenario is queued as the reopening print, stops do not
trigger, and new orders are accepted and rest. Whether the asset's `tradable` flips to false
is a parameter (false by default, as for a LULD pause). At the reopen the queued price prints;
whether a stop elected by that print is then cancelled rather than filled is a parameter
(Alpaca forum thread 5940: a sell stop elected by the reopening print was cancelled).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from trading_monitor.paper_exchange.orders import Order

if TYPE_CHECKING:
    from trading_monitor.paper_exchange.venue import Venue

STOPS = ("stop", "stop_limit", "trailing_stop")


@dataclass
class Halt:
    since: datetime
    tradable_flips: bool = False
    cancel_elected_stops_at_reopen: bool = False
    canceled_at_reopen: list[str] = field(default_factory=list)

    def describe(self, symbol: str, halted: bool, queued: Decimal | None) -> dict[str, Any]:
        return {"symbol": symbol, "halted": halted, "since": self.since.isoformat(),
                "tradable_flips": self.tradable_flips,
                "cancel_elected_stops_at_reopen": self.cancel_elected_stops_at_reopen,
                "queued_price": None if queued is None else format(queued.normalize(), "f"),
                "canceled_at_reopen": self.canceled_at_reopen}


def set_halt(venue: Venue, symbol: str, halted: bool, *, tradable_flips: bool,
             cancel_elected: bool) -> dict[str, Any]:
    now = venue.sync()
    engine, market = venue.engine, venue.market
    if halted:
        halt = engine.paused.get(symbol) or Halt(now)
        halt.tradable_flips, halt.cancel_elected_stops_at_reopen = tradable_flips, cancel_elected
        engine.paused[symbol] = halt
        market.frozen.setdefault(symbol, None)
        _set_tradable(venue, symbol, not tradable_flips)
        return halt.describe(symbol, True, market.frozen[symbol])
    halt = engine.paused.pop(symbol, None) or Halt(now)
    price = market.frozen.pop(symbol, None)
    _set_tradable(venue, symbol, True)
    if price is not None:
        if halt.cancel_elected_stops_at_reopen:
            halt.canceled_at_reopen = _cancel_elected(venue, symbol, price, now)
        market.set_price(symbol, price, now)  # the reopening print
        venue.settle_now()
    return halt.describe(symbol, False, None)


def _set_tradable(venue: Venue, symbol: str, tradable: bool) -> None:
    asset = venue.assets[symbol]
    if asset.tradable != tradable and symbol not in venue.engine.halted:
        venue.assets[symbol] = replace(asset, tradable=tradable)


def _elected(order: Order, price: Decimal) -> bool:
    if order.type not in STOPS or order.triggered or order.stop_price is None:
        return False
    return price >= order.stop_price if order.side == "buy" else price <= order.stop_price


def _cancel_elected(venue: Venue, symbol: str, price: Decimal, now: datetime) -> list[str]:
    """Cancel the stops the reopening print elects, before anything can fill them."""
    engine, canceled = venue.engine, []
    for order in engine.prune():
        if order.symbol == symbol and order.is_open and _elected(order, price):
            canceled += [o.id for o in engine.cancel_now(order, now)]
    return canceled


def describe_all(venue: Venue) -> list[dict[str, Any]]:
    return [h.describe(s, True, venue.market.frozen.get(s))
            for s, h in sorted(venue.engine.paused.items())]
