"""`POST /control/corporate_action/{id}/cash_in_lieu`: the cash in lieu of a split that was
applied with `cash_in_lieu_posted: false` is paid and its CIL activity posted now, as Alpaca
may post it a day or more after the split (docs/paper-exchange.md, "Corporate actions").
Optional body {"price": "..."}: the cash per share, if it differs from the announced one."""

from __future__ import annotations

from decimal import Decimal

from aiohttp import web

from trading_monitor.paper_exchange import corporate_position
from trading_monitor.paper_exchange.plumbing import VENUE, json_body, reply

routes = web.RouteTableDef()


@routes.post("/control/corporate_action/{action_id}/cash_in_lieu")
async def post_cash_in_lieu(request: web.Request) -> web.Response:
    body = await json_body(request)
    venue = request.app[VENUE]
    action_id = request.match_info["action_id"]
    action = next((a for a in venue.actions if a.id == action_id), None)
    if action is None or action.pending_cil is None:
        raise ValueError(f"no cash in lieu waiting for corporate action {action_id}")
    now = venue.sync()
    fraction, cash = action.pending_cil
    # a CIL waits only for a priced fraction: announced, or a short's at the last trade
    price = action.cash_in_lieu_price or abs(cash / fraction)
    if isinstance(body, dict) and body.get("price") is not None:
        price = Decimal(str(body["price"]))
        cash = (fraction * price).quantize(Decimal("0.01"))
    corporate_position.post(venue, action, "CIL", now, fraction, net_amount=cash, price=price)
    ledger = venue.engine.ledger
    ledger.cash += cash
    ledger.history.append((now, ledger.snapshot()))
    action.pending_cil = None
    return reply({"action_id": action.id, "qty": str(fraction), "cash": str(cash)})
