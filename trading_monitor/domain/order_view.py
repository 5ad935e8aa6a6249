"""One order of a trade as the domain sees it (built from our rows by the caller)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from trading_monitor.domain.lifecycle import OrderRole, Purpose
from trading_monitor.domain.order_status import OrderStatus


@dataclass(frozen=True)
class OrderView:
    row_id: int
    client_order_id: str
    role: OrderRole
    purpose: Purpose
    status: str
    qty: Decimal
    filled_qty: Decimal
    order_class: str
    time_in_force: str
    stop_price: Decimal | None = None
    limit_price: Decimal | None = None
    parent_row_id: int | None = None
    alpaca_order_id: str | None = None
    expires_at: datetime | None = None
    entry_expires_at: datetime | None = None  # we withdraw an unfilled entry from then on

    @property
    def live(self) -> bool:
        """It may still fill: at the broker, or our intent that may have gone out."""
        return OrderStatus(self.status).may_fill

    @property
    def at_broker(self) -> bool:
        return OrderStatus(self.status).at_broker

    @property
    def protects(self) -> bool:
        return OrderStatus(self.status).protects

    @property
    def open_qty(self) -> Decimal:
        return self.qty - self.filled_qty
