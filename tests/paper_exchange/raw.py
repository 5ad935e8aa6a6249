"""Raw order requests for the broker-rule tests: JSON bodies in, dicts out (alpaca-py with
raw_data=True), so no test leans on alpaca-py's strict response models."""

from __future__ import annotations

from typing import Any

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient

WASH = (403, 40310000, "potential wash trade detected. use complex orders")


def post(raw: TradingClient, symbol: str = "AAPL", qty: Any = 10, side: str = "buy",
         type: str = "limit", tif: str = "gtc", **extra: Any) -> dict[str, Any]:
    body = {"symbol": symbol, "qty": str(qty), "side": side, "type": type,
            "time_in_force": tif, **{k: str(v) if isinstance(v, (int, float)) else v
                                     for k, v in extra.items()}}
    answer: dict[str, Any] = raw.post("/orders", body)  # type: ignore[assignment]
    return answer


def get(raw: TradingClient, order_id: str, nested: bool = False) -> dict[str, Any]:
    answer: dict[str, Any] = raw.get(f"/orders/{order_id}", {"nested": nested})  # type: ignore[assignment]
    return answer


def patch(raw: TradingClient, order_id: str, **changes: Any) -> dict[str, Any]:
    answer: dict[str, Any] = raw.patch(f"/orders/{order_id}",  # type: ignore[assignment]
                                       {k: str(v) for k, v in changes.items()})
    return answer


def refusal(call: Any, *args: Any, **kw: Any) -> tuple[int, int, str]:
    """The (status, code, message) a call was refused with."""
    with pytest.raises(APIError) as err:
        call(*args, **kw)
    return err.value.status_code, err.value.code, err.value.message


def positions(raw: TradingClient) -> dict[str, str]:
    answer: list[dict[str, Any]] = raw.get("/positions")  # type: ignore[assignment]
    return {p["symbol"]: p["qty"] for p in answer}
