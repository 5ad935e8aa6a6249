"""Non-trade account activities (FEE, CSD, CSW, SPLIT, NC, CIL, ...), read tolerantly.

A mixin of AlpacaBroker, like FeedMixin: `GET /v2/account/activities?activity_types=...`,
100 per request, pages followed by `page_token` (the last id) until a short page. An
activity of a type not asked for (or one we do not know) is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any, Protocol, TypeVar

from trading_monitor.broker.models import AccountActivity
from trading_monitor.broker.reader import Body, rows

T = TypeVar("T")
ACTIVITIES = "GET /v2/account/activities"
PAGE = 100
CASH_FLOW_TYPES = ("CSD", "CSW")


class _Reads(Protocol):
    _trading: Any

    def _read(self, fn: Callable[[], T], *, order_request: bool = False) -> T: ...

    def _parse(self, endpoint: str, parse: Callable[[], T]) -> T: ...


class ActivitiesMixin:
    def account_activities(self: _Reads, types: Iterable[str], *, after: datetime | None = None,
                           last_id: str | None = None, on: date | None = None
                           ) -> list[AccountActivity]:
        """Activities of `types` after the one with id `last_id`, else after the time
        `after`, and only those of the date `on` when given; oldest first (N activities
        cost N // 100 + 1 requests)."""
        wanted = sorted({t.upper() for t in types})
        found: list[AccountActivity] = []
        seen: set[str] = set()
        token = last_id
        while True:
            params: dict[str, Any] = {"activity_types": ",".join(wanted), "direction": "asc",
                                      "page_size": PAGE}
            if after is not None and last_id is None:
                params["after"] = after.isoformat()
            if on is not None:
                params["date"] = on.isoformat()
            if token:
                params["page_token"] = token
            page: Any = self._read(partial(self._trading.get, "/account/activities", params))
            ids, items = self._parse(ACTIVITIES, partial(_page, page, seen, set(wanted)))
            found += items
            seen.update(ids)
            if len(page or []) < PAGE or not ids:
                return found
            token = ids[-1]

    def cash_flows(self: _Reads, on: date) -> list[tuple[str, Decimal]]:
        """Deposits (CSD, +) and withdrawals (CSW, -) booked on `on`: the daily loss leaves
        them out (a withdrawal is no loss, a deposit no gain)."""
        found = ActivitiesMixin.account_activities(self, CASH_FLOW_TYPES, on=on)
        return [(a.activity_type, a.net_amount) for a in found
                if a.net_amount is not None and a.status != "canceled"]


def _page(page: Any, seen: set[str], wanted: set[str]
          ) -> tuple[list[str], list[AccountActivity]]:
    ids: list[str] = []
    items: list[AccountActivity] = []
    for raw in rows(page or [], ACTIVITIES):
        b = Body(raw, "activity", ACTIVITIES)
        activity_id = b.need_text("id")
        if activity_id in seen:
            continue
        ids.append(activity_id)
        kind = b.need_text("activity_type")
        if kind in wanted:
            items.append(_activity(b, activity_id, kind))
    return ids, items


def _activity(b: Body, activity_id: str, kind: str) -> AccountActivity:
    return AccountActivity(
        id=activity_id, activity_type=kind, sub_type=b.text("activity_sub_type") or None,
        date=b.text("date") or None, created_at=b.time("created_at"),
        net_amount=b.dec("net_amount"), symbol=b.text("symbol") or None, qty=b.dec("qty"),
        per_share_amount=b.dec("per_share_amount"), order_id=b.text("order_id") or None,
        description=b.text("description") or None, status=b.text("status") or None,
    )
