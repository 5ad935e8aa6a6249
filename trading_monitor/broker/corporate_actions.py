"""Alpaca's corporate-action announcements: GET /v1/corporate-actions on the market-data
host, read tolerantly (domain/corporate.py: groups and fields we do not know are skipped).

A mixin of AlpacaBroker, like ActivitiesMixin; it uses the broker's `_read` (timeouts, the
request budget, retries of temporary failures) and its data client at API version v1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from functools import partial
from typing import Any, Protocol, TypeVar

from trading_monitor.domain.corporate import Announcement, parse_listing
from trading_monitor.exceptions import BrokerContractError

T = TypeVar("T")
ENDPOINT = "GET /v1/corporate-actions"
PAGE = 1000  # Alpaca's largest `limit`
SYMBOLS_PER_REQUEST = 100


class _Reads(Protocol):
    _data: Any

    def _read(self, fn: Callable[[], T], *, order_request: bool = False) -> T: ...

    def _parse(self, endpoint: str, parse: Callable[[], T]) -> T: ...


class CorporateActionsMixin:
    def corporate_actions(self: _Reads, symbols: Iterable[str], start: date, end: date
                          ) -> list[Announcement]:
        """Every announced action of `symbols` (old or new symbol) whose ex-date (or
        effective date) is in [start, end], all data qualities (one request per 100 symbols
        and 1,000 actions)."""
        wanted = sorted({s.upper() for s in symbols})
        found: dict[str, Announcement] = {}
        for i in range(0, len(wanted), SYMBOLS_PER_REQUEST):
            token: str | None = None
            while True:
                params: dict[str, Any] = {
                    "symbols": ",".join(wanted[i:i + SYMBOLS_PER_REQUEST]),
                    "start": start.isoformat(), "end": end.isoformat(), "limit": PAGE,
                    "data_quality": "all", "sort": "asc"}
                if token:
                    params["page_token"] = token
                body: Any = self._read(partial(self._data.get, "/corporate-actions", params,
                                               api_version="v1"))
                items = self._parse(ENDPOINT, partial(_listing, body))
                found.update((a.id, a) for a in items)
                token = body.get("next_page_token") if isinstance(body, dict) else None
                if not token:
                    break
        return list(found.values())


def _listing(body: Any) -> list[Announcement]:
    if not isinstance(body, dict) or "corporate_actions" not in body:
        raise BrokerContractError(ENDPOINT, "corporate_actions", "is missing")
    return parse_listing(body)
