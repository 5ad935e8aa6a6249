"""Corporate actions (POST /control/corporate_action): splits and name changes, announced for
a future ex-date (applied at that day's pre-open, 04:00 New York) or applied at once.

What an action does to the book (docs/paper-exchange.md, "Corporate actions"): the position's
qty and average price follow the split; simple orders are adjusted (qty and prices, GTC limits
as Alpaca documents; plain stops and trailing stops by parameter); bracket/OTO legs carry
Alpaca's DNR/DNC instruction, so their prices stay and they are not cancelled, while whether
their qty follows is a parameter (alpaca-py issue 469 reports that it did). OCO legs are
treated like bracket legs unless told otherwise. A name change moves the position and the
open orders to the new symbol.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

from trading_monitor.paper_exchange import (
    clock,
    corporate_ending,
    corporate_position,
    risk,
)
from trading_monitor.paper_exchange.orders import Order
from trading_monitor.paper_exchange.rules import tick

if TYPE_CHECKING:
    from trading_monitor.paper_exchange.venue import Venue

TYPES = ("forward_split", "reverse_split", "unit_split", "name_change", *corporate_ending.ENDING)
PRE_OPEN = (4, 0)  # New York time on the ex-date: before any session trades
CHOICES = {"plain_stops": ("adjusted", "left"), "oco_legs": ("left", "adjusted"),
           "trailing_stops": ("canceled", "adjusted"),
           "under_one_share": ("canceled", "left")}  # a whole-share order scaled below 1
FLAGS = {"bracket_qty_follows": True, "replace_adjusted": False, "cash_in_lieu_posted": True,
         "listed": True}


@dataclass
class CorporateAction:
    id: str
    type: str
    symbol: str
    new_symbol: str
    old_rate: Decimal
    new_rate: Decimal
    ex_date: date
    cash_in_lieu_price: Decimal | None
    params: dict[str, Any]
    rate: Decimal | None = None  # cash per share: a cash merger, a redemption
    pending_cil: tuple[Decimal, Decimal] | None = None  # (fraction, cash) not posted yet
    applied_at: datetime | None = None
    outcome: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> Decimal:
        return self.new_rate / self.old_rate

    def scale(self, qty: Decimal) -> Decimal:
        """Old shares in new ones, multiplied before divided: 18 after a 1-for-3 are 6 (the
        rounded ratio would make them 5.999…, as no broker reports a holding)."""
        return qty * self.new_rate / self.old_rate

    @property
    def due_at(self) -> datetime:
        d = self.ex_date
        return clock.utc(datetime(d.year, d.month, d.day, *PRE_OPEN, tzinfo=clock.NY))


def parse(venue: Venue, body: dict[str, Any]) -> CorporateAction:
    kind = str(body.get("type") or "")
    if kind not in TYPES:
        raise ValueError(f"type must be one of {TYPES}")
    symbol = str(body.get("symbol") or "").upper()
    if symbol not in venue.assets or symbol in venue.engine.halted:
        raise ValueError(f"unknown or untradable symbol {symbol}")
    new_symbol = str(body.get("new_symbol") or symbol).upper()
    if kind == "name_change" and new_symbol == symbol:
        raise ValueError("a name change needs a new_symbol")
    ending = kind in corporate_ending.ENDING
    if kind in corporate_ending.WITH_SHARES and new_symbol == symbol:
        raise ValueError(f"a {kind} needs a new_symbol (the acquirer or the spun-off company)")
    if new_symbol != symbol and new_symbol in venue.assets and not ending:
        raise ValueError(f"new_symbol {new_symbol} is already listed")
    old_rate, new_rate = (_rate(body, n, kind) for n in ("old_rate", "new_rate"))
    if kind == "forward_split" and new_rate <= old_rate or (
            kind == "reverse_split" and new_rate >= old_rate):
        raise ValueError(f"a {kind} needs new_rate {'>' if kind[0] == 'f' else '<'} old_rate")
    return CorporateAction(
        id=venue.ids.uuid(), type=kind, symbol=symbol, new_symbol=new_symbol,
        old_rate=old_rate, new_rate=new_rate, ex_date=_ex_date(venue, body),
        cash_in_lieu_price=_money(body.get("cash_in_lieu_price")), params=_params(body),
        rate=_money(body.get("rate")))


def _rate(body: dict[str, Any], name: str, kind: str) -> Decimal:
    if kind not in ("forward_split", "reverse_split", "unit_split") and body.get(name) is None:
        return Decimal(1)
    value = _money(body.get(name))
    if value is None:
        raise ValueError(f"{name} is required")
    return value


def _money(raw: Any) -> Decimal | None:
    if raw is None:
        return None
    try:
        value = Decimal(str(raw))
    except ArithmeticError:
        raise ValueError(f"invalid number: {raw}") from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"must be a positive number: {raw}")
    return value


def _ex_date(venue: Venue, body: dict[str, Any]) -> date:
    raw = body.get("ex_date")
    if raw is None:
        return venue.now.astimezone(clock.NY).date()
    try:
        return date.fromisoformat(str(raw)[:10])
    except ValueError:
        raise ValueError(f"invalid ex_date: {raw}") from None


def _params(body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, allowed in CHOICES.items():
        out[name] = body.get(name, allowed[0])
        if out[name] not in allowed:
            raise ValueError(f"{name} must be one of {allowed}")
    for name, default in FLAGS.items():
        out[name] = body.get(name, default)
        if not isinstance(out[name], bool):
            raise ValueError(f"{name} must be true or false")
    return out


# -- applying ------------------------------------------------------------------------------


def apply(venue: Venue, action: CorporateAction, now: datetime) -> None:
    """Apply an action to prices, the position, the open orders and the activities."""
    action.applied_at = now
    if action.type in corporate_ending.ENDING:
        action.outcome = corporate_ending.apply(venue, action, now)
        return
    if action.ratio != 1:
        _split_price(venue, action.symbol, action.ratio, now)
    if action.new_symbol != action.symbol:
        _list_new_symbol(venue, action.symbol, action.new_symbol, now)
    action.outcome = {"position": corporate_position.move_position(venue, action, now),
                      **_adjust_orders(venue, action, now)}


def _split_price(venue: Venue, symbol: str, ratio: Decimal, now: datetime) -> None:
    market = venue.market
    price = tick(market.prices[symbol] / ratio)
    market.prices[symbol] = price
    market.previous_close[symbol] = tick(market.previous_close.get(symbol, price) / ratio)
    market.history.setdefault(symbol, []).append((now, price))


def _list_new_symbol(venue: Venue, old: str, new: str, now: datetime) -> None:
    """The security trades under its new symbol from now on; the old one stops trading."""
    market, engine = venue.market, venue.engine
    market.prices[new] = market.prices[old]
    market.previous_close[new] = market.previous_close.get(old, market.prices[old])
    market.history[new] = [(now, market.prices[old])]
    market.pinned.add(new)
    asset = venue.assets[old]
    venue.assets[new] = replace(asset, symbol=new, tradable=True)
    venue.assets[old] = replace(asset, tradable=False)
    engine.asset_ids[new] = venue.assets[new].id
    engine.halted.add(old)  # orders in the old symbol are refused as not tradable


# -- orders ----------------------------------------------------------------------------------


def _adjust_orders(venue: Venue, action: CorporateAction, now: datetime) -> dict[str, Any]:
    engine = venue.engine
    done: dict[str, list[str]] = {"adjusted": [], "replaced": [], "canceled": [], "left": []}
    for order in engine.prune():
        if not order.is_open or order.symbol != action.symbol:
            continue
        if action.new_symbol != action.symbol:
            order.symbol, order.asset_id = action.new_symbol, engine.asset_ids[action.new_symbol]
        if action.ratio == 1:
            continue
        outcome = _adjust(venue, order, action, now)
        done[outcome].append(order.id)
    return done


def _adjust(venue: Venue, order: Order, action: CorporateAction, now: datetime) -> str:
    params = action.params
    dnr = order.order_class in ("bracket", "oto") or (
        order.order_class == "oco" and params["oco_legs"] == "left")
    if dnr:  # Do Not Reduce / Do Not Cancel: the prices stay; the qty by parameter
        if not params["bracket_qty_follows"]:
            return "left"
        if _under_one_share(order, action):
            return _nothing_left(venue, order, params, now)
        order.qty, order.updated_at = _scaled_qty(order, action), now
        return "adjusted"
    if order.type == "trailing_stop" and params["trailing_stops"] == "canceled":
        venue.engine.close(order, "canceled", now)
        return "canceled"
    if order.type == "stop" and params["plain_stops"] == "left":
        return "left"
    if _under_one_share(order, action):
        return _nothing_left(venue, order, params, now)
    changes = _changes(order, action)
    if params["replace_adjusted"] and order.order_class == "simple":
        _replace(venue, order, changes, now)
        return "replaced"
    for name, value in changes.items():
        setattr(order, name, value)
    order.updated_at = now
    return "adjusted"


def _under_one_share(order: Order, action: CorporateAction) -> bool:
    """A whole-share order whose unfilled rest the split scales below one share (a 1-share
    leg in a 1-for-2 reverse split: the whole position is paid in cash in lieu)."""
    return order.remaining > 0 and _scaled_qty(order, action) == order.filled_qty


def _nothing_left(venue: Venue, order: Order, params: dict[str, Any], now: datetime) -> str:
    """Cancelled (`under_one_share` "canceled", the default), or left untouched: its qty and
    prices as before the split, for shares the account no longer holds. Which Alpaca does is
    UNCONFIRMED: both are played."""
    if params["under_one_share"] == "left":
        return "left"
    venue.engine.close(order, "canceled", now)
    return "canceled"


def _scaled_qty(order: Order, action: CorporateAction) -> Decimal:
    rest = action.scale(order.remaining)
    if order.qty == order.qty.to_integral_value():
        rest = rest.to_integral_value(ROUND_DOWN)  # whole-share orders stay whole
    return order.filled_qty + rest


def _changes(order: Order, action: CorporateAction) -> dict[str, Any]:
    changes: dict[str, Any] = {"qty": _scaled_qty(order, action)}
    for name in ("limit_price", "stop_price", "trail_price", "hwm"):
        value = getattr(order, name)
        if value is not None:
            changes[name] = tick(value / action.ratio)
    if order.type == "trailing_stop":
        changes["stop_price"] = risk.trail_stop(replace(order, **changes))
    return changes


def _replace(venue: Venue, old: Order, changes: dict[str, Any], now: datetime) -> None:
    """The adjusted order comes back as a new order, as after a PATCH (Alpaca's `replaced`:
    "updated due to a market event such as corporate action")."""
    engine = venue.engine
    new = replace(old, id=venue.ids.uuid(), client_order_id=engine.new_client_id(None),
                  replaces=old.id, replaced_by=None, created_at=now, updated_at=now,
                  legs=list(old.legs), **changes)
    engine.add(new)
    old.status, old.replaced_at, old.replaced_by, old.updated_at = "replaced", now, new.id, now
    engine.emit("replaced", old, now)
    engine.emit("new", new, now)
