"""A broker that can only read: what a dry run is given, so it cannot send, change or
cancel an order whatever state it meets (a bug would raise instead of trading)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from trading_monitor.broker.base import Broker
from trading_monitor.broker.models import BrokerOrder, OrderRequest


class BrokerWriteRefused(RuntimeError):
    """A write reached a read-only broker: a bug in the dry-run path, never an order sent."""


class ReadOnlyBroker:
    def __init__(self, inner: Broker):
        self._inner = inner

    def __repr__(self) -> str:
        return f"ReadOnlyBroker({self._inner!r})"

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @property
    def requests_sent(self) -> int:
        return self._inner.requests_sent

    def submit_order(self, request: OrderRequest) -> BrokerOrder:
        raise BrokerWriteRefused(f"dry run: refused to submit {request.client_order_id}")

    def cancel_order(self, order_id: str) -> None:
        raise BrokerWriteRefused(f"dry run: refused to cancel {order_id}")

    def replace_order(self, order_id: str, *, qty: Decimal | None = None,
                      limit_price: Decimal | None = None,
                      stop_price: Decimal | None = None,
                      client_order_id: str | None = None) -> BrokerOrder:
        raise BrokerWriteRefused(f"dry run: refused to replace {order_id}")
