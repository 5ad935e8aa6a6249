"""A split's effect on the position (docs/paper-exchange.md, "Corporate actions"): qty x
ratio, average price / ratio, moved to a new symbol if any, and its SPLIT, NC and CIL
activities.

The fraction a split leaves is settled as cash in lieu at `cash_in_lieu_price`, towards zero
for a short too: a short of 5 after a 1-for-2 reverse split is -2 shares and the account pays
for the half share (changes-2026.md §5, forum thread 3510). Without a `cash_in_lieu_price` a
long keeps its fractional shares (Alpaca holds fractional longs; whether it pays them out is
UNCONFIRMED, so both are played), while a short's fraction is still settled, at the
split-adjusted last trade (that price is ours, UNCONFIRMED): Alpaca lets no account end net
short in fractions (its 2021 "Shorting Prevention Breaking Change Notification"), so -2.5
shares never stand.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

from trading_monitor.paper_exchange import corporate_wire
from trading_monitor.paper_exchange.account import Position

if TYPE_CHECKING:
    from trading_monitor.paper_exchange.corporate import CorporateAction
    from trading_monitor.paper_exchange.venue import Venue


def cash_price(venue: Venue, action: CorporateAction, qty: Decimal) -> Decimal | None:
    """The cash per new share for the fraction of `qty`: the announced price, else (a short
    only) the split-adjusted last trade."""
    if action.cash_in_lieu_price is not None or qty >= 0:
        return action.cash_in_lieu_price
    prices = venue.market.prices
    return prices.get(action.new_symbol) or prices.get(action.symbol)


def move_position(venue: Venue, action: CorporateAction, now: datetime) -> dict[str, Any]:
    ledger = venue.engine.ledger
    pos = ledger.positions.pop(action.symbol, None)
    if pos is None:
        return {}
    qty = action.scale(pos.qty)
    cash = Decimal(0)
    price = cash_price(venue, action, qty)
    if price is not None and qty != qty.to_integral_value(ROUND_DOWN):
        whole = qty.to_integral_value(ROUND_DOWN)  # towards zero, for shorts too
        cash = ((qty - whole) * price).quantize(Decimal("0.01"))
        if action.params["cash_in_lieu_posted"]:
            post(venue, action, "CIL", now, qty - whole, net_amount=cash, price=price)
        else:  # paid and posted later (corporate_later.py)
            action.pending_cil, cash = (qty - whole, cash), Decimal(0)
        qty = whole
    ledger.cash += cash
    if qty != 0:
        ledger.positions[action.new_symbol] = Position(action.new_symbol, qty,
                                                       pos.avg_entry_price * action.old_rate
                                                       / action.new_rate)
    ledger.history.append((now, ledger.snapshot()))
    if action.ratio != 1:
        post(venue, action, "SPLIT", now, qty)
    if action.new_symbol != action.symbol:
        post(venue, action, "NC", now, qty)
    return {"symbol": action.new_symbol, "qty_before": corporate_wire.num(pos.qty),
            "qty": corporate_wire.num(qty), "cash_in_lieu": corporate_wire.num(cash)}


def post(venue: Venue, action: CorporateAction, kind: str, now: datetime, qty: Decimal,
         **amounts: Decimal) -> None:
    engine = venue.engine
    activity_id = engine.activity_id(now, venue.ids.uuid())
    engine.nta.append((now, corporate_wire.activity(activity_id, kind, action, now, qty,
                                                    **amounts)))
