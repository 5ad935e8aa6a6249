"""The broker interface the jobs depend on (a Protocol: any implementation with these fits)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from trading_monitor.broker.models import (
    AccountActivity,
    BrokerAccount,
    BrokerAsset,
    BrokerOrder,
    BrokerPosition,
    CalendarDay,
    FillActivity,
    MarketClock,
    MarketSnapshot,
    OrderRequest,
)
from trading_monitor.domain.corporate import Announcement


class Broker(Protocol):
    @property
    def requests_sent(self) -> int:
        """HTTP requests made so far (for per-cycle accounting)."""

    def submit_order(self, request: OrderRequest) -> BrokerOrder:
        """Exactly-once submit: unclear outcomes are settled by client order id lookup."""

    def get_order(self, order_id: str) -> BrokerOrder | None: ...

    def get_order_by_client_id(self, client_order_id: str) -> BrokerOrder | None: ...

    def list_orders_submitted_since(self, after: datetime) -> list[BrokerOrder]: ...

    def cancel_order(self, order_id: str) -> None: ...

    def replace_order(self, order_id: str, *, qty: Decimal | None = None,
                      limit_price: Decimal | None = None,
                      stop_price: Decimal | None = None,
                      client_order_id: str | None = None) -> BrokerOrder: ...

    def get_positions(self, *, include_unmanaged: bool = False) -> list[BrokerPosition]:
        """US-equity positions only, unless `include_unmanaged` (for reports)."""

    def get_account(self) -> BrokerAccount: ...

    def get_clock(self) -> MarketClock: ...

    def get_calendar(self, start: date, end: date) -> list[CalendarDay]: ...

    def get_asset(self, symbol: str) -> BrokerAsset | None: ...

    def latest_prices(self, symbols: Iterable[str]) -> dict[str, Decimal]: ...

    def market_snapshots(self, symbols: Iterable[str], feed: str = "iex"
                         ) -> dict[str, MarketSnapshot]: ...

    def fill_activities(self, after: datetime) -> list[FillActivity]: ...

    def fill_activities_after(self, last_id: str | None, *, since: datetime | None = None
                              ) -> list[FillActivity]:
        """FILL activities after the one with id `last_id`, else after the time `since`;
        oldest first (one request per 100)."""

    def account_activities(self, types: Iterable[str], *, after: datetime | None = None,
                           last_id: str | None = None) -> list[AccountActivity]:
        """Non-trade activities of `types` (FEE, CSD, CSW, ...) after `last_id` or `after`."""

    def cash_flows(self, on: date) -> list[tuple[str, Decimal]]:
        """(CSD|CSW, signed amount) of the deposits and withdrawals booked on `on`."""

    def list_open_orders(self, known: set[str] | None = None) -> list[BrokerOrder]:
        """Every open order, legs nested in their parent (one request per 499 or so)."""

    def corporate_actions(self, symbols: Iterable[str], start: date, end: date
                          ) -> list[Announcement]:
        """Announced corporate actions of `symbols` with an ex-date in [start, end]."""
