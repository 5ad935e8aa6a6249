"""AlpacaBroker's paged reads for the order monitor: open orders and fill activities.

A mixin, so alpaca.py stays one screenful; it uses the broker's `_read` (timeouts, the
request budget, retries of temporary failures) and its TradingClient.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol, TypeVar

from alpaca.common.enums import Sort
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.requests import GetOrdersRequest

from trading_monitor.broker import convert
from trading_monitor.broker.models import BrokerOrder, FillActivity
from trading_monitor.broker.reader import Body, rows
from trading_monitor.exceptions import TemporaryError

T = TypeVar("T")
ORDERS_PAGE = 500  # Alpaca's largest `limit` for GET /v2/orders
FILLS_PAGE = 100  # Alpaca's largest `page_size` for account activities
FILLS = "GET /v2/account/activities/FILL"


class _Reads(Protocol):
    _trading: Any

    def _read(self, fn: Callable[[], T], *, order_request: bool = False) -> T: ...

    def _orders(self, fetch: Callable[[], Any]) -> list[BrokerOrder]: ...

    def _parse(self, endpoint: str, parse: Callable[[], T]) -> T: ...


class FeedMixin:
    def list_open_orders(self: _Reads, known: set[str] | None = None) -> list[BrokerOrder]:
        """Every open order, legs nested in their parent (a filled bracket entry with open
        legs is listed too), 500 per request.

        Alpaca pages by submission time: each next page starts a microsecond before the last
        one's last order (`after` is exclusive), so orders sharing that timestamp are not
        skipped; the overlap is dropped by id. N open orders with distinct submission times
        cost max(1, ceil(N / 499)) requests.

        With `known` (the ids of the orders the caller tracks), the first two pages are the
        newest 500 and the oldest 500: if they overlap the list is complete, and if every
        known order is in them the caller has what it needs, so 1,000 open orders cost two
        requests. Orders of others between those pages may then be left out: only the
        caller's own orders are promised.
        """
        if known is not None:
            newest = FeedMixin._orders_page(self, None, Sort.DESC)
            if len(newest) < ORDERS_PAGE:
                return list(newest.values())
            oldest = FeedMixin._orders_page(self, None, Sort.ASC)
            seen = {**oldest, **newest}
            ids = set(seen) | {leg.id for o in seen.values() for leg in o.legs}
            if len(seen) < len(newest) + len(oldest) or known <= ids:
                return list(seen.values())
            return FeedMixin._pages_after(self, seen, oldest)
        first = FeedMixin._orders_page(self, None, Sort.ASC)
        if len(first) < ORDERS_PAGE:
            return list(first.values())
        return FeedMixin._pages_after(self, dict(first), first)

    def _orders_page(self: _Reads, after: datetime | None, direction: Sort
                     ) -> dict[str, BrokerOrder]:
        query = GetOrdersRequest(status=QueryOrderStatus.OPEN, after=after, limit=ORDERS_PAGE,
                                 direction=direction, nested=True)
        return {o.id: o for o in self._orders(partial(self._trading.get_orders, query))}

    def _pages_after(self: _Reads, orders: dict[str, BrokerOrder],
                     page: dict[str, BrokerOrder]) -> list[BrokerOrder]:
        """Ascending pages from the end of `page` until a short one."""
        while True:
            last = max(o.submitted_at for o in page.values() if o.submitted_at is not None)
            page = FeedMixin._orders_page(self, last - timedelta(microseconds=1), Sort.ASC)
            fresh = {k: v for k, v in page.items() if k not in orders}
            orders.update(fresh)
            if len(page) < ORDERS_PAGE:
                return list(orders.values())
            if not fresh:
                # 500 open orders submitted in one microsecond: `after` cannot page past
                # them. Never hand back a list that may be missing open orders.
                raise TemporaryError(f"more than {ORDERS_PAGE} open orders share the submission "
                                     f"time {last}; cannot list them all")

    def fill_activities_after(self: _Reads, last_id: str | None, *,
                              since: datetime | None = None) -> list[FillActivity]:
        """FILL activities after the one with id `last_id` (Alpaca's `page_token`), or else
        after the time `since`, or else all of them; oldest first, 100 per request, pages
        followed until a short one (N fills cost N // 100 + 1 requests)."""
        fills: list[FillActivity] = []
        seen: set[str] = set()
        token = last_id
        while True:
            params: dict[str, Any] = {"direction": "asc", "page_size": FILLS_PAGE}
            if since is not None and last_id is None:
                params["after"] = since.isoformat()
            if token:
                params["page_token"] = token
            page: Any = self._read(partial(self._trading.get, "/account/activities/FILL",
                                           params))
            ids, page_fills = self._parse(FILLS, partial(_fresh_fills, page, seen))
            fills.extend(page_fills)
            seen.update(ids)
            # A page that brings nothing new (a server ignoring page_token) ends it too.
            if len(page or []) < FILLS_PAGE or not ids:
                return fills
            token = ids[-1]

    def fill_activities(self: _Reads, after: datetime) -> list[FillActivity]:
        """FILL activities after the time `after`, oldest first (see fill_activities_after)."""
        return FeedMixin.fill_activities_after(self, None, since=after)


def _fresh_fills(page: Any, seen: set[str]) -> tuple[list[str], list[FillActivity]]:
    """The ids of the page's activities not seen before, and their fills. An activity of
    another type (one we do not know included) is skipped, its type logged once; its id
    still counts, as paging goes on from it."""
    ids: list[str] = []
    fills: list[FillActivity] = []
    for raw in rows(page or [], FILLS):
        activity_id = Body(raw, "activity", FILLS).need_text("id")
        if activity_id in seen:
            continue
        ids.append(activity_id)
        if convert.is_fill(raw, FILLS):
            fills.append(convert.fill(raw, FILLS))
    return ids, fills
