"""The drift switch: today's bodies as a later Alpaca might send them, to test the adapter.

With drift on (`POST /control/drift {"on": true}`), every trading-API body the exchange
answers with (2xx JSON, POST/PATCH answers included) and every trade_updates frame:

1. carries unknown fields in every object (`x_drift_*`, an unknown nested object included);
2. omits every field that broker/needed.py's NEEDED does not list for the object's kind,
   except an order's `legs` (a bracket's stop is only seen there);
3. lists decoys with enum values nobody has seen (drift_decoys.py): an order in an unknown
   status and class, a position of an unknown asset class, an activity of an unknown type.

Market-data bodies get the unknown fields, and lose fields only for the kinds NEEDED lists.
Decoys live only in answers: the book, the ids and the control API never see them.
The switch belongs to one exchange and is off again after `/control/reset`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from aiohttp import web

from trading_monitor.paper_exchange import drift_decoys as decoys
from trading_monitor.paper_exchange.needed import NEEDED

if TYPE_CHECKING:
    from trading_monitor.paper_exchange.venue import Venue

Body = Any
Omit = Mapping[str, frozenset[str]]


@dataclass(frozen=True)
class Ask:
    """What a reshaping may look at: the request's query, the exchange's time, the switch."""

    query: Mapping[str, str]
    now: datetime
    omit: Omit

    def shape(self, obj: Any, kind: str | None) -> Any:
        return shape(obj, kind, self.omit)


Reshape = Callable[[Body, Ask], Body]


@dataclass(frozen=True)
class _Switch:
    on: bool
    generation: int  # the venue's reset generation it was set in: a reset turns it off
    omit: Omit  # needed fields to leave out as well, to provoke a contract error


_SWITCHES: WeakKeyDictionary[Venue, _Switch] = WeakKeyDictionary()
# Which exchange a stream frame belongs to: frames are built in the hub's flush, with no
# request or venue at hand. Requests set the context variable (exact per request task); the
# realtime ticker has no request, so it falls back to the last exchange its thread served
# (each PaperExchange and the CLI run one exchange per thread).
_SERVING: ContextVar[Venue | None] = ContextVar("drift_serving", default=None)
_LAST = threading.local()


def set_drift(venue: Venue, on: bool, omit: Omit | None = None) -> None:
    _SWITCHES[venue] = _Switch(on, venue.generation, dict(omit or {}))


def _switch(venue: Venue) -> _Switch | None:
    switch = _SWITCHES.get(venue)
    if switch is None or not switch.on or switch.generation != venue.generation:
        return None
    return switch


def is_on(venue: Venue) -> bool:
    return _switch(venue) is not None


def omitted(venue: Venue) -> dict[str, list[str]]:
    switch = _switch(venue)
    return {} if switch is None else {k: sorted(v) for k, v in switch.omit.items()}


def serving(venue: Venue) -> None:
    """Called by the request plumbing: this request (and its stream flush) is `venue`'s."""
    _SERVING.set(venue)
    _LAST.venue = venue


def _current() -> Venue | None:
    return _SERVING.get() or getattr(_LAST, "venue", None)


# -- the three changes to one object -----------------------------------------------------


def unknown_fields() -> dict[str, Any]:
    """Fields no spec has: a string, and an object holding a list (fresh each time)."""
    return {"x_drift_field": "drift",
            "x_drift_object": {"x_drift_nested": "drift", "x_drift_list": [1, "two", None]}}


def shape(obj: Any, kind: str | None, omit: Omit | None = None) -> Any:
    """Keep only NEEDED[kind] (all keys for a kind NEEDED does not list), add unknown ones.

    `omit` (kind -> fields, from the switch) drops needed fields too: a broken answer.
    """
    if not isinstance(obj, dict):
        return obj
    keep = NEEDED.get(kind) if kind is not None else None
    gone = (omit or {}).get(kind or "", frozenset())
    out = {k: v for k, v in obj.items() if k not in gone and (
        keep is None or k in keep or (kind == "order" and k == "legs"))}
    if kind == "order" and isinstance(out.get("legs"), list):
        out["legs"] = [shape(leg, "order", omit) for leg in out["legs"]]
    return {**out, **unknown_fields()}


def _everywhere(body: Body) -> Body:
    """An answer we have no table entry for: unknown fields in every object, nothing omitted."""
    if isinstance(body, list):
        return [_everywhere(item) for item in body]
    if isinstance(body, dict):
        return {**{k: _everywhere(v) for k, v in body.items()}, **unknown_fields()}
    return body


# -- trading API ---------------------------------------------------------------------------


def _one(kind: str) -> Reshape:
    return lambda body, ask: ask.shape(body, kind)


def _each(kind: str) -> Reshape:
    return lambda body, ask: [ask.shape(item, kind) for item in body]


def _multi_status(body: Body, ask: Ask) -> Body:
    """DELETE /v2/orders and /v2/positions: each entry's 200 body is an order."""
    return [ask.shape({**entry, "body": ask.shape(entry["body"], "order")}, None)
            if entry.get("status") == 200 else ask.shape(entry, None) for entry in body]


def _orders(body: Body, ask: Ask) -> Body:
    return decoys.place(ask.query, [ask.shape(o, "order") for o in body], ask.now,
                        decoys.order, lambda o: ask.shape(o, "order"), "limit", 50)


def _positions(body: Body, ask: Ask) -> Body:
    return [*(ask.shape(p, "position") for p in body),
            ask.shape(decoys.position(), "position")]


def _activity(item: Any, ask: Ask) -> Any:
    kind = "fill_activity" if item.get("activity_type") == "FILL" else "activity"
    return ask.shape(item, kind)


def _activities(body: Body, ask: Ask) -> Body:
    return decoys.place(ask.query, [_activity(a, ask) for a in body], ask.now,
                        decoys.activity, lambda a: _activity(a, ask), "page_size", 100)


def _activities_of_type(body: Body, ask: Ask) -> Body:
    return [_activity(a, ask) for a in body]


# -- market data: symbol-keyed maps are maps, not objects, so they get no unknown keys ------


def _by_symbol(field: str, kind: str) -> Reshape:
    def reshape(body: Body, ask: Ask) -> Body:
        inner = {s: ask.shape(v, kind) for s, v in body[field].items()}
        return ask.shape({**body, field: inner}, None)
    return reshape


def _bar_pages(body: Body, ask: Ask) -> Body:
    bars = {s: [ask.shape(b, "bar") for b in v] for s, v in body["bars"].items()}
    return ask.shape({**body, "bars": bars}, None)


_SNAPSHOT_PARTS = {"latestTrade": "latest_trade", "latestQuote": "quote", "minuteBar": "bar",
                   "dailyBar": "bar", "prevDailyBar": "bar"}


def _snapshots(body: Body, ask: Ask) -> Body:
    return {s: ask.shape({k: ask.shape(v, _SNAPSHOT_PARTS.get(k)) for k, v in snap.items()},
                         None)
            for s, snap in body.items()}


def _corporate_actions(body: Body, ask: Ask) -> Body:
    """Market data's corporate actions: lists grouped by type (a map: no unknown keys)."""
    groups = {group: [ask.shape(a, "corporate_action") for a in listings]
              for group, listings in body["corporate_actions"].items()}
    return ask.shape({**body, "corporate_actions": groups}, None)


RESHAPE: dict[str, Reshape] = {
    "GET /v2/account": _one("account"),
    "POST /v2/orders": _one("order"),
    "GET /v2/orders": _orders,
    "DELETE /v2/orders": _multi_status,
    "GET /v2/orders:by_client_order_id": _one("order"),
    "GET /v2/orders/{id}": _one("order"),
    "PATCH /v2/orders/{id}": _one("order"),
    "GET /v2/positions": _positions,
    "GET /v2/positions/{symbol_or_asset_id}": _one("position"),
    "DELETE /v2/positions/{symbol_or_asset_id}": _one("order"),
    "DELETE /v2/positions": _multi_status,
    "GET /v2/clock": _one("clock"),
    "GET /v2/calendar": _each("calendar"),
    "GET /v2/assets": _each("asset"),
    "GET /v2/assets/{symbol_or_asset_id}": _one("asset"),
    "GET /v2/account/activities": _activities,
    "GET /v2/account/activities/{activity_type}": _activities_of_type,
    "GET /v2/corporate_actions/announcements": _each("corporate_action"),
    "GET /v2/corporate_actions/announcements/{id}": _one("corporate_action"),
    "GET /v2/stocks/trades/latest": _by_symbol("trades", "latest_trade"),
    "GET /v2/stocks/quotes/latest": _by_symbol("quotes", "quote"),
    "GET /v2/stocks/bars/latest": _by_symbol("bars", "bar"),
    "GET /v2/stocks/bars": _bar_pages,
    "GET /v2/stocks/snapshots": _snapshots,
    "GET /v1/corporate-actions": _corporate_actions,
    "GET /v1beta1/corporate-actions": _corporate_actions,
}


def reshape_reply(venue: Venue, request: web.Request, key: str, resp: web.Response) -> None:
    """Drift one answer in place, if its exchange drifts (only 2xx JSON bodies change)."""
    switch = _switch(venue)
    if switch is None or not 200 <= resp.status < 300:
        return
    if resp.content_type != "application/json" or not isinstance(resp.body, bytes):
        return
    body = json.loads(resp.body)
    reshape = RESHAPE.get(key)
    ask = Ask(request.query, venue.now, switch.omit)
    drifted = reshape(body, ask) if reshape is not None else _everywhere(body)
    resp.text = json.dumps(drifted, separators=(",", ":"))


def stream_frame(frame: dict[str, Any]) -> dict[str, Any]:
    """A trade_updates frame as it goes out: drifted when its exchange drifts."""
    venue = _current()
    switch = None if venue is None else _switch(venue)
    if switch is None:
        return frame
    data = shape(frame["data"], "trade_update", switch.omit)
    if isinstance(data.get("order"), dict):
        data["order"] = shape(data["order"], "order", switch.omit)
    return shape({**frame, "data": data}, None)
