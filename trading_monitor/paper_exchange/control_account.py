"""Control acts for a second account and a paper reset (tests of issue 27).

- `POST /control/account {"account_id": ID}`: the keys now lead to account ID. Its book is
  its own (orders, positions, cash); switching back to an earlier id finds that account's
  book as it was left. The clock and prices are the one market's.
- `POST /control/paper_reset`: Alpaca's paper reset: the same account id, every order and
  position gone, cash back to the start. The clock and prices go on.
"""

from __future__ import annotations

import weakref
from decimal import Decimal

from aiohttp import web

from trading_monitor.paper_exchange.assets import NOT_TRADABLE
from trading_monitor.paper_exchange.engine import Engine
from trading_monitor.paper_exchange.plumbing import VENUE, json_body, reply
from trading_monitor.paper_exchange.venue import Venue

routes = web.RouteTableDef()
# The books of the accounts not in use, per venue: account id -> (engine, last equity).
_parked: weakref.WeakKeyDictionary[Venue, dict[str, tuple[Engine, Decimal]]] = (
    weakref.WeakKeyDictionary())


def _fresh_engine(venue: Venue) -> Engine:
    return Engine(venue.ids, venue.market, {s: a.id for s, a in venue.assets.items()},
                  set(NOT_TRADABLE))


def switch_account(venue: Venue, account_id: str) -> None:
    parked = _parked.setdefault(venue, {})
    if account_id == venue.account_id:
        return
    parked[venue.account_id] = (venue.engine, venue.last_equity)
    engine, last_equity = parked.pop(account_id, (None, None))
    venue.engine = engine or _fresh_engine(venue)
    venue.last_equity = last_equity if last_equity is not None else venue.engine.ledger.cash
    venue.account_id = account_id


def paper_reset(venue: Venue) -> None:
    venue.engine = _fresh_engine(venue)
    venue.last_equity = venue.engine.ledger.cash


@routes.post("/control/account")
async def set_account(request: web.Request) -> web.Response:
    account_id = str((await json_body(request)).get("account_id") or "")
    if not account_id:
        raise ValueError("account_id is required")
    venue = request.app[VENUE]
    switch_account(venue, account_id)
    return reply({"account_id": venue.account_id})


@routes.post("/control/paper_reset")
async def reset_paper_account(request: web.Request) -> web.Response:
    venue = request.app[VENUE]
    paper_reset(venue)
    return reply({"account_id": venue.account_id})
