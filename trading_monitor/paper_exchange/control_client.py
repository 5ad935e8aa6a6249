"""ExchangeControl: drives a running paper exchange's control API over HTTP (stdlib only)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime
from decimal import Decimal
from typing import Any


class ControlError(RuntimeError):
    """The control API refused a request; `status` and `body` say why."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"control API answered {status}: {body}")
        self.status = status
        self.body = body


class ExchangeControl:
    """Drives a running paper exchange over HTTP, from this or any other process."""

    def __init__(self, url: str, api_key: str | None = None, secret_key: str | None = None,
                 timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._headers = {
            "APCA-API-KEY-ID": api_key or "paper-key",
            "APCA-API-SECRET-KEY": secret_key or "paper-secret",
            "Content-Type": "application/json",
        }
        self.timeout = timeout
        # The exchange is local: an http_proxy in the environment must not capture control calls.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body, default=str).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers=self._headers)
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            raise ControlError(err.code, err.read().decode(errors="replace")) from None

    def set_price(self, symbol: str, price: Decimal | str | float) -> None:
        self.set_prices({symbol: price})

    def set_prices(self, prices: dict[str, Any]) -> None:
        self._call("POST", "/control/prices", {"prices": {s: str(p) for s, p in prices.items()}})

    def set_quote(self, symbol: str, bid: Decimal | str | float | None,
                  ask: Decimal | str | float | None) -> dict[str, Any]:
        """Latest quote (and so the spread); bid=ask=None goes back to last ± 0.01."""
        return self._call("POST", "/control/quote", {
            "symbol": symbol, "bid": None if bid is None else str(bid),
            "ask": None if ask is None else str(ask)})

    def set_volume(self, symbol: str, daily: int | None = None,
                   previous: int | None = None) -> dict[str, Any]:
        """The `v` of the snapshot's dailyBar (daily) and prevDailyBar (previous)."""
        return self._call("POST", "/control/volume",
                          {"symbol": symbol, "daily": daily, "previous": previous})

    def advance(self, seconds: float) -> dict[str, Any]:
        return self._call("POST", "/control/advance", {"seconds": seconds})

    def set_clock(self, at: datetime) -> dict[str, Any]:
        return self._call("POST", "/control/clock", {"at": at.isoformat()})

    def set_fault(self, endpoint: str | None = None, kind: str = "http_status", *,
                  count: int | None = None, probability: float | None = None,
                  **params: Any) -> dict[str, Any]:
        body = {"endpoint": endpoint, "kind": kind, "count": count,
                "probability": probability, **params}
        body = {k: v for k, v in body.items() if v is not None}
        return self._call("POST", "/control/faults", body)

    def clear_faults(self) -> None:
        self._call("DELETE", "/control/faults")

    def set_partial_fill(self, symbol: str | None = None, ratio: Decimal | str | None = None, *,
                         client_order_id: str | None = None, rest: bool = False) -> None:
        """`rest=True`: the remainder rests until the rule is cleared (`ratio=None`), even
        as a realtime clock ticks (a partial entry left resting, for its timeout)."""
        key = {"symbol": symbol} if symbol else {"client_order_id": client_order_id}
        self._call("POST", "/control/partial_fill",
                   {**key, "ratio": None if ratio is None else str(ratio), "rest": rest})

    def set_cancel_behavior(self, mode: str, seconds: float | None = None,
                            client_order_id: str | None = None) -> dict[str, Any]:
        """"immediate" (default; clears the rest), "pending" (for `seconds`) or "refuse"."""
        body: dict[str, Any] = {"mode": mode}
        if seconds is not None:
            body["seconds"] = seconds
        if client_order_id is not None:
            body["client_order_id"] = client_order_id
        return self._call("POST", "/control/cancel_behavior", body)

    def set_misreport(self, pending_cancel_as_canceled: bool) -> dict[str, Any]:
        """Order reads report a `pending_cancel` order as `canceled` (it still lives and can
        fill; the stream tells the truth), or stop. A lie for a test to catch."""
        return self._call("POST", "/control/misreport",
                          {"pending_cancel_as_canceled": pending_cancel_as_canceled})

    def reject(self, client_order_id: str, reason: str | None = None) -> dict[str, Any]:
        """Reject an accepted, unfilled order (and its legs): {"reason", "orders": [...]}."""
        return self._call("POST", "/control/reject",
                          {"client_order_id": client_order_id, "reason": reason})

    def set_position_lag(self, seconds: float) -> None:
        self._call("POST", "/control/position_lag", {"seconds": seconds})

    def set_rate_limit(self, per_min: int | None) -> None:
        self._call("POST", "/control/rate_limit", {"per_min": per_min})

    def set_rules(self, **switches: Any) -> dict[str, Any]:
        """Broker rules: wash_trade, buy_stop_limit, buy_stop_limit_legs, market_collar_pct
        (a percent or None), held_events; answers with every switch."""
        return self._call("POST", "/control/rules", {
            k: (str(v) if isinstance(v, Decimal) else v) for k, v in switches.items()})

    def set_replace_behavior(self, mode: str,
                             client_order_id: str | None = None) -> dict[str, Any]:
        """"accept" (default; without an id it clears the rest), "refuse" (422) or
        "reject_after_accept" (200, then the replacement is rejected and the old order lives)."""
        return self._call("POST", "/control/replace_behavior",
                          {"mode": mode, "client_order_id": client_order_id})

    def rules(self) -> dict[str, Any]:
        return self._call("GET", "/control/rules")

    def halt(self, symbol: str, halted: bool = True, *, tradable_flips: bool = False,
             cancel_elected_stops_at_reopen: bool = False) -> dict[str, Any]:
        """Halt trading in a symbol (halted=False reopens it, at the price queued meanwhile)."""
        return self._call("POST", "/control/halt", {
            "symbol": symbol, "halted": halted, "tradable_flips": tradable_flips,
            "cancel_elected_stops_at_reopen": cancel_elected_stops_at_reopen})

    def corporate_action(self, type: str, symbol: str, **params: Any) -> dict[str, Any]:
        """Announce (future ex_date) or apply a split or name change; see the docs for params:
        new_symbol, old_rate, new_rate, ex_date, cash_in_lieu_price, apply, ..."""
        body = {"type": type, "symbol": symbol, **params}
        return self._call("POST", "/control/corporate_action", body)

    def post_cash_in_lieu(self, action_id: str, price: str | None = None) -> dict[str, Any]:
        """Pay and post the CIL of a split applied with cash_in_lieu_posted=false."""
        return self._call("POST", f"/control/corporate_action/{action_id}/cash_in_lieu",
                          {} if price is None else {"price": price})

    def counters(self) -> dict[str, int]:
        return self._call("GET", "/control/counters")

    def fault_counts(self) -> dict[str, Any]:
        """Faults injected (total, by kind, by "ENDPOINT kind") and behaviours played."""
        return self._call("GET", "/control/fault_counts")

    def reset_counters(self) -> None:
        self._call("DELETE", "/control/counters")

    def close_position_manually(self, symbol: str) -> dict[str, Any]:
        return self._call("POST", f"/control/positions/{symbol}/close")

    def orders(self) -> list[dict[str, Any]]:
        return self._call("GET", "/control/orders")

    def state(self) -> dict[str, Any]:
        return self._call("GET", "/control/state")

    def set_drift(self, on: bool, omit: dict[str, list[str]] | None = None) -> dict[str, Any]:
        """Drift every trading-API body and stream frame (unknown fields added, fields not in
        broker/needed.py's NEEDED omitted, decoys listed) or stop. `omit` ({kind: [field]})
        drops needed fields too. Answers {"on": bool, "omit": {...}}."""
        return self._call("POST", "/control/drift",
                          {"on": on, **({"omit": omit} if omit else {})})

    def reset(self) -> dict[str, Any]:
        """Back to the start state (orders, positions, cash, clock, prices, settings); the state."""
        return self._call("POST", "/control/reset")
