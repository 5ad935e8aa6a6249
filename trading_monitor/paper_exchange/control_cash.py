"""`POST /control/cash_activity`: money moved into or out of the account, as Alpaca posts it.

{"activity_type": "CSD" | "CSW" | "FEE" | "DIV" | "DIVNRA" | ..., "amount": "5000",
 "symbol"?: ..., "order_id"?: ..., "description"?: ..., "qty"?: ..., "per_share_amount"?: ...}
A deposit (CSD) adds the amount to cash, a withdrawal (CSW) or a fee (FEE) takes it away;
a FEE may carry its own description (a borrow fee: "stock borrow fee", issue 21). A dividend
(DIV and its family, e.g. DIVNRA) takes a signed amount: positive received on a long, negative
owed on a short (how Alpaca posts the latter is UNCONFIRMED). The activity is then listed by
GET /v2/account/activities with a signed `net_amount`, as Alpaca's non-trade activities are.
Equity moves with the cash; `last_equity` (the previous close) does not, which is what a daily
loss guard must not mistake for a loss or a gain.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from trading_monitor.paper_exchange import clock
from trading_monitor.paper_exchange.plumbing import VENUE, json_body, reply
from trading_monitor.paper_exchange.wire import num

routes = web.RouteTableDef()
DIVIDENDS = ("DIV", "DIVCGL", "DIVCGS", "DIVFEE", "DIVFT", "DIVNRA", "DIVROC", "DIVTW",
             "DIVTXEX")
SIGN = {"CSD": Decimal(1), "CSW": Decimal(-1), "FEE": Decimal(-1),
        **{d: Decimal(1) for d in DIVIDENDS}}  # a dividend's amount is given signed
WHAT = {"CSD": "cash deposit", "CSW": "cash withdrawal", "FEE": "regulatory fee",
        **{d: "dividend" for d in DIVIDENDS}}


@routes.post("/control/cash_activity")
async def cash_activity(request: web.Request) -> web.Response:
    body = await json_body(request)
    kind = str(body.get("activity_type") or "").upper()
    if kind not in SIGN:
        raise ValueError(f"activity_type must be one of {', '.join(SIGN)}")
    try:
        amount = Decimal(str(body.get("amount")))
    except InvalidOperation:
        raise ValueError("amount must be a positive number") from None
    if not amount.is_finite() or amount == 0 or (amount < 0 and kind not in DIVIDENDS):
        raise ValueError("amount must be a positive number (signed for a dividend)")
    venue = request.app[VENUE]
    now = venue.sync()
    net = (SIGN[kind] * amount).quantize(Decimal("0.01"))
    ledger = venue.engine.ledger
    ledger.cash += net
    ledger.history.append((now, ledger.snapshot()))
    activity: dict[str, Any] = {
        "id": venue.engine.activity_id(now, venue.ids.uuid()), "activity_type": kind,
        "activity_sub_type": None, "date": now.astimezone(clock.NY).date().isoformat(),
        "net_amount": num(net), "description": body.get("description") or WHAT[kind],
        "symbol": body.get("symbol"), "qty": body.get("qty"),
        "per_share_amount": body.get("per_share_amount"), "order_id": body.get("order_id"),
        "status": "executed"}
    venue.engine.nta.append((now, activity))
    return reply(activity)
