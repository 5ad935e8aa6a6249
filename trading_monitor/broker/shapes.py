"""Every read the jobs use, fetched raw and held against what we need and know.

`validate-paper --shapes` and `health` print the result: the fields we need that a body
lacks (what would raise a BrokerContractError) and the enum values we do not know (what we
treat conservatively). It only reads, so it is allowed on a live account too: live can drift
apart from paper.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from alpaca.common.enums import Sort
from alpaca.data.requests import StockLatestTradeRequest, StockSnapshotRequest
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.requests import GetCalendarRequest, GetOrdersRequest

from trading_monitor.broker.alpaca import get_data_client, get_trading_client
from trading_monitor.broker.known import ENUM_FIELDS
from trading_monitor.broker.needed import needed
from trading_monitor.settings.config import Settings


@dataclass(frozen=True)
class Finding:
    endpoint: str
    kind: str
    field: str
    problem: str  # "missing" or "unknown value 'x'"

    def __str__(self) -> str:
        return f"{self.endpoint}: {self.kind}.{self.field} {self.problem}"


@dataclass(frozen=True)
class ShapeReport:
    """What was read (endpoint → objects looked at) and what was found."""

    objects: dict[str, int]
    findings: tuple[Finding, ...]
    unreadable: dict[str, str]  # endpoint → why it could not be read at all

    @property
    def ok(self) -> bool:
        return not self.findings and not self.unreadable

    @property
    def missing(self) -> list[Finding]:
        return [f for f in self.findings if f.problem == "missing"]

    @property
    def unknown(self) -> list[Finding]:
        return [f for f in self.findings if f.problem != "missing"]


def check_objects(endpoint: str, kind: str, objects: Iterable[Any]) -> list[Finding]:
    """The needed fields each object lacks and the enum values we do not know, once each."""
    found: dict[Finding, None] = {}
    for obj in objects:
        for sub_kind, name, problem in _problems(kind, obj):
            found.setdefault(Finding(endpoint, sub_kind, name, problem))
    return list(found)


def _problems(kind: str, obj: Any) -> Iterator[tuple[str, str, str]]:
    """(kind, field, problem) of one object, its legs included."""
    if not isinstance(obj, dict):
        yield kind, "(object)", "missing"
        return
    for name in sorted(needed(kind)):
        if name not in obj:
            yield kind, name, "missing"
    for (enum_kind, name), values in ENUM_FIELDS.items():
        value = obj.get(name)
        if enum_kind == kind and value not in (None, "") and str(value) not in values:
            yield kind, name, f"unknown value {str(value)!r}"
    if kind == "order":
        for leg in obj.get("legs") or []:
            yield from _problems("order", leg)


def read_shapes(settings: Settings, symbol: str, today: date) -> ShapeReport:
    """One raw read of each endpoint the jobs use (about ten requests); no order is sent."""
    trading: Any = get_trading_client(settings, reads_only=True)
    data: Any = get_data_client(settings)
    reads: list[tuple[str, str, Callable[[], Any]]] = [
        ("GET /v2/account", "account", lambda: [trading.get_account()]),
        ("GET /v2/positions", "position", trading.get_all_positions),
        ("GET /v2/orders", "order", lambda: trading.get_orders(GetOrdersRequest(
            status=QueryOrderStatus.ALL, limit=100, direction=Sort.DESC, nested=True))),
        ("GET /v2/clock", "clock", lambda: [trading.get_clock()]),
        ("GET /v2/calendar", "calendar", lambda: trading.get_calendar(GetCalendarRequest(
            start=today, end=today + timedelta(days=7)))),
        ("GET /v2/assets/{symbol}", "asset", lambda: [trading.get_asset(symbol)]),
        ("GET /v2/account/activities", "activity", lambda: trading.get(
            "/account/activities", {"page_size": 100, "direction": "desc"})),
        ("GET /v2/account/activities/FILL", "fill_activity", lambda: trading.get(
            "/account/activities/FILL", {"page_size": 100, "direction": "desc"})),
        ("GET /v2/stocks/trades/latest", "latest_trade", lambda: list(dict(
            data.get_stock_latest_trade(StockLatestTradeRequest(
                symbol_or_symbols=[symbol]))).values())),
        ("GET /v2/stocks/snapshots", "snapshot", lambda: list(dict(data.get_stock_snapshot(
            StockSnapshotRequest(symbol_or_symbols=[symbol]))).values())),
    ]
    objects: dict[str, int] = {}
    findings: list[Finding] = []
    unreadable: dict[str, str] = {}
    for endpoint, kind, fetch in reads:
        try:
            body = fetch()
        except Exception as exc:  # one unreadable endpoint is a line, not the end
            unreadable[endpoint] = f"{type(exc).__name__}: {str(exc)[:200]}"
            continue
        items = body if isinstance(body, list) else [body]
        objects[endpoint] = len(items)
        findings += (_snapshot_findings(endpoint, items) if kind == "snapshot"
                     else check_objects(endpoint, kind, items))
    return ShapeReport(objects, tuple(findings), unreadable)


def _snapshot_findings(endpoint: str, snapshots: list[Any]) -> list[Finding]:
    parts = (("latestTrade", "latest_trade"), ("latestQuote", "quote"), ("dailyBar", "bar"),
             ("prevDailyBar", "bar"))
    found: list[Finding] = []
    for key, kind in parts:
        objs = [s[key] for s in snapshots if isinstance(s, dict) and isinstance(s.get(key), dict)]
        found += check_objects(endpoint, kind, objs)
    return found
