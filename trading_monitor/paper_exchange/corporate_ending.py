"""Corporate actions that end a security or change it into another (POST
/control/corporate_action with `type` cash_merger, stock_merger, stock_and_cash_merger,
spin_off, worthless_removal or redemption): listed by GET /v1/corporate-actions with
alpaca-py's field names, and applied at 04:00 New York on their effective date.

What applying does is ours (UNCONFIRMED at Alpaca; docs/paper-exchange.md, "Corporate
actions"): the held symbol stops trading and its open orders are cancelled; the position is
paid out (`rate` cash per share: a cash merger, a redemption; nothing: a worthless removal)
or exchanged for the acquirer's shares (`new_symbol`, new_rate per old_rate, plus `rate` cash
for a stock-and-cash merger), with an MA (mergers) or REORG (redemption, worthless removal)
activity. A spin-off leaves the position and the orders alone and adds the new symbol's
shares (new_rate per old_rate) with a SPIN activity.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

from trading_monitor.paper_exchange import corporate_wire
from trading_monitor.paper_exchange.account import Position

if TYPE_CHECKING:
    from trading_monitor.paper_exchange.corporate import CorporateAction
    from trading_monitor.paper_exchange.venue import Venue

ENDING = ("cash_merger", "stock_merger", "stock_and_cash_merger", "spin_off",
          "worthless_removal", "redemption")
WITH_SHARES = ("stock_merger", "stock_and_cash_merger", "spin_off")
ACTIVITY = {"cash_merger": "MA", "stock_merger": "MA", "stock_and_cash_merger": "MA",
            "spin_off": "SPIN", "worthless_removal": "REORG", "redemption": "REORG"}


def apply(venue: Venue, action: CorporateAction, now: datetime) -> dict[str, Any]:
    engine, ledger = venue.engine, venue.engine.ledger
    if action.type in WITH_SHARES and action.new_symbol not in venue.assets:
        _list(venue, action.symbol, action.new_symbol)
    pos = ledger.positions.get(action.symbol)
    qty = pos.qty if pos is not None else Decimal(0)
    shares = action.scale(qty).to_integral_value(ROUND_DOWN) \
        if action.type in WITH_SHARES else Decimal(0)
    cash = (qty * (action.rate or Decimal(0))).quantize(Decimal("0.01"))
    canceled: list[str] = []
    if action.type != "spin_off":
        for order in engine.prune():
            if order.is_open and order.symbol == action.symbol \
                    and engine.close(order, "canceled", now):
                canceled.append(order.id)
        ledger.positions.pop(action.symbol, None)
        engine.halted.add(action.symbol)  # no longer tradable
        venue.assets[action.symbol] = replace(venue.assets[action.symbol], tradable=False)
    if shares:
        held = ledger.positions.get(action.new_symbol)
        basis = pos.avg_entry_price * qty / shares if pos is not None else Decimal(0)
        if action.type == "spin_off" or held is not None:
            basis = venue.market.price(action.new_symbol)
        if held is None:
            ledger.positions[action.new_symbol] = Position(action.new_symbol, shares, basis)
        else:
            held.avg_entry_price = (held.cost_basis + shares * basis) / (held.qty + shares)
            held.qty += shares
    ledger.cash += cash
    ledger.history.append((now, ledger.snapshot()))
    if pos is not None:
        engine.nta.append((now, corporate_wire.activity(
            engine.activity_id(now, venue.ids.uuid()), ACTIVITY[action.type], action, now,
            shares if shares else qty, net_amount=cash)))
    return {"position": {"symbol": action.symbol, "qty_before": corporate_wire.num(qty),
                         "shares": corporate_wire.num(shares), "cash": corporate_wire.num(cash)},
            "canceled": canceled, "adjusted": [], "replaced": [], "left": []}


def _list(venue: Venue, old: str, new: str) -> None:
    market = venue.market
    market.prices[new] = market.prices[old]
    market.previous_close[new] = market.previous_close.get(old, market.prices[old])
    market.pinned.add(new)
    venue.assets[new] = replace(venue.assets[old], symbol=new, tradable=True)
    venue.engine.asset_ids[new] = venue.assets[new].id
