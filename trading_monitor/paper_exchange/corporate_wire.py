"""Corporate actions as Alpaca shows them: the market-data listing (GET /v1/corporate-actions,
field names as alpaca-py's corporate action models read them) and the non-trade activities
(SPLIT, NC, CIL) of GET /v2/account/activities."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from trading_monitor.paper_exchange import clock

if TYPE_CHECKING:
    from trading_monitor.paper_exchange.corporate import CorporateAction

GROUPS = {"forward_split": "forward_splits", "reverse_split": "reverse_splits",
          "unit_split": "unit_splits", "name_change": "name_changes",
          "cash_merger": "cash_mergers", "stock_merger": "stock_mergers",
          "stock_and_cash_merger": "stock_and_cash_mergers", "spin_off": "spin_offs",
          "worthless_removal": "worthless_removals", "redemption": "redemptions"}
_CUSIPS = uuid.UUID("0b7d8c52-5f0e-4f4e-9a51-3f1d2e8c9a10")


def num(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def cusip(symbol: str) -> str:
    """A made-up but stable 9-character CUSIP per symbol."""
    return uuid.uuid5(_CUSIPS, symbol).hex[:9].upper()


def listing(a: CorporateAction) -> dict[str, Any]:
    """One action as the corporate-actions endpoint lists it (rates as JSON numbers)."""
    ex, old, new = a.ex_date.isoformat(), float(a.old_rate), float(a.new_rate)
    if a.type == "forward_split":
        payable = clock.previous_session(a.ex_date).day.isoformat()
        return {"id": a.id, "symbol": a.symbol, "cusip": cusip(a.symbol), "new_rate": new,
                "old_rate": old, "process_date": ex, "ex_date": ex, "record_date": ex,
                "payable_date": payable, "due_bill_redemption_date": None}
    if a.type == "reverse_split":
        # new_symbol on reverse splits: Alpaca changelog 2026-06-23.
        return {"id": a.id, "symbol": a.symbol, "new_symbol": a.new_symbol,
                "old_cusip": cusip(a.symbol), "new_cusip": cusip(a.new_symbol + "/r"),
                "new_rate": new, "old_rate": old, "process_date": ex, "ex_date": ex,
                "record_date": ex, "payable_date": ex}
    if a.type == "unit_split":
        return {"id": a.id, "old_symbol": a.symbol, "old_cusip": cusip(a.symbol),
                "old_rate": old, "new_symbol": a.new_symbol, "new_cusip": cusip(a.new_symbol),
                "new_rate": new, "alternate_symbol": a.new_symbol,
                "alternate_cusip": cusip(a.new_symbol), "alternate_rate": 0.0,
                "process_date": ex, "effective_date": ex, "payable_date": ex}
    if a.type in ENDING_LISTINGS:
        return ENDING_LISTINGS[a.type](a)
    return {"id": a.id, "old_symbol": a.symbol, "old_cusip": cusip(a.symbol),
            "new_symbol": a.new_symbol, "new_cusip": cusip(a.new_symbol), "process_date": ex}


def _merger(a: CorporateAction) -> dict[str, Any]:
    ex = a.ex_date.isoformat()
    item: dict[str, Any] = {"id": a.id, "acquiree_symbol": a.symbol,
                            "acquiree_cusip": cusip(a.symbol), "process_date": ex,
                            "effective_date": ex, "payable_date": ex}
    if a.type == "cash_merger":
        return {**item, "acquirer_symbol": None, "acquirer_cusip": None,
                "rate": float(a.rate or 0)}
    item.update({"acquirer_symbol": a.new_symbol, "acquirer_cusip": cusip(a.new_symbol),
                 "acquirer_rate": float(a.new_rate), "acquiree_rate": float(a.old_rate)})
    return {**item, "cash_rate": float(a.rate or 0)} if a.type == "stock_and_cash_merger" \
        else item


def _spin_off(a: CorporateAction) -> dict[str, Any]:
    ex = a.ex_date.isoformat()
    return {"id": a.id, "source_symbol": a.symbol, "source_cusip": cusip(a.symbol),
            "source_rate": float(a.old_rate), "new_symbol": a.new_symbol,
            "new_cusip": cusip(a.new_symbol), "new_rate": float(a.new_rate),
            "process_date": ex, "ex_date": ex, "record_date": ex, "payable_date": ex}


def _removal(a: CorporateAction) -> dict[str, Any]:
    ex = a.ex_date.isoformat()
    item = {"id": a.id, "symbol": a.symbol, "cusip": cusip(a.symbol), "process_date": ex}
    return {**item, "rate": float(a.rate or 0), "payable_date": ex} \
        if a.type == "redemption" else item


ENDING_LISTINGS = {"cash_merger": _merger, "stock_merger": _merger,
                   "stock_and_cash_merger": _merger, "spin_off": _spin_off,
                   "worthless_removal": _removal, "redemption": _removal}


def control_view(a: CorporateAction) -> dict[str, Any]:
    """The control API's answer: the listing plus what the exchange did (or will do)."""
    return {"type": a.type, "status": "applied" if a.applied_at else "scheduled",
            "applies_at": a.due_at.astimezone(clock.NY).isoformat(),
            "applied_at": None if a.applied_at is None else a.applied_at.isoformat(),
            "cash_in_lieu_price": num(a.cash_in_lieu_price), "params": a.params,
            "outcome": a.outcome, "listing": listing(a)}


def page(actions: list[CorporateAction], query: dict[str, str], today: date,
         ) -> dict[str, Any]:
    """GET /v1/corporate-actions: filters symbols, cusips, types, start/end (on the ex-date;
    both default to today, as Alpaca's), ids; sort; limit with an offset page_token."""
    picked = [a for a in actions if _wanted(a, query, today)]
    picked.sort(key=lambda a: (a.ex_date, a.id), reverse=query.get("sort") == "desc")
    offset = int(query.get("page_token") or 0)
    limit = int(query.get("limit") or 1000)
    grouped: dict[str, list[dict[str, Any]]] = {}
    for a in picked[offset:offset + limit]:
        grouped.setdefault(GROUPS[a.type], []).append(listing(a))
    more = offset + limit < len(picked)
    return {"corporate_actions": grouped,
            "next_page_token": str(offset + limit) if more else None}


def _csv(query: dict[str, str], name: str) -> set[str]:
    return {s.strip() for s in query.get(name, "").split(",") if s.strip()}


def _wanted(a: CorporateAction, query: dict[str, str], today: date) -> bool:
    if not a.params.get("listed", True):
        return False  # an action the announcements never show (only its activities)
    ids = _csv(query, "ids")
    if ids:  # exclusive with every other filter, as Alpaca documents
        return a.id in ids
    symbols = {s.upper() for s in _csv(query, "symbols")}
    if symbols and not symbols & {a.symbol, a.new_symbol}:
        return False
    cusips = _csv(query, "cusips")
    if cusips and not cusips & {cusip(a.symbol), cusip(a.new_symbol)}:
        return False
    types = _csv(query, "types")
    if types and a.type not in types:
        return False
    start = date.fromisoformat(query["start"][:10]) if query.get("start") else today
    end = date.fromisoformat(query["end"][:10]) if query.get("end") else today
    return start <= a.ex_date <= end


def activity(activity_id: str, kind: str, a: CorporateAction, at: datetime, qty: Decimal,
             net_amount: Decimal = Decimal(0), price: Decimal | None = None) -> dict[str, Any]:
    """A non-trade activity with alpaca-py's NonTradeActivity field names, but, like the
    exchange's FILLs (the spec's activities), no account_id; SPLIT carries the sub-type
    FSPLIT/RSPLIT."""
    sub_type = ("FSPLIT" if a.ratio > 1 else "RSPLIT") if kind == "SPLIT" else None
    what = {"SPLIT": f"{a.type} {num(a.new_rate)} for {num(a.old_rate)}",
            "NC": f"name change {a.symbol} to {a.new_symbol}",
            "CIL": f"cash in lieu of {num(qty)} {a.new_symbol}"}.get(
                kind, f"{a.type.replace('_', ' ')} of {a.symbol}")
    symbol = a.symbol if kind in ("MA", "REORG", "SPIN") else a.new_symbol
    return {"id": activity_id, "activity_type": kind,
            "activity_sub_type": sub_type, "date": at.astimezone(clock.NY).date().isoformat(),
            "net_amount": num(net_amount), "description": what, "symbol": symbol,
            "cusip": cusip(symbol), "qty": num(qty), "price": num(price),
            "per_share_amount": None, "status": "executed"}
