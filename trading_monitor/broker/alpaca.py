"""The Alpaca implementation of `Broker`, on alpaca-py over our own transport.

- every request has a timeout and goes through the process-wide request budget;
- alpaca-py's own 429/504 retry is off (it re-POSTs orders); we retry only safe reads;
- an unclear submit is settled by looking the order up by client order id, never resent blind.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

from alpaca.common.enums import Sort
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.requests import (
    GetOrdersRequest,
    ReplaceOrderRequest,
)

from trading_monitor.broker import contract, convert
from trading_monitor.broker.account_reads import AccountReadsMixin
from trading_monitor.broker.activities import ActivitiesMixin
from trading_monitor.broker.corporate_actions import CorporateActionsMixin
from trading_monitor.broker.errors import DuplicateClientOrderId, NotFoundError, classify
from trading_monitor.broker.feed import FeedMixin
from trading_monitor.broker.models import (
    BrokerOrder,
    OrderRequest,
)
from trading_monitor.broker.order_requests import as_float, nested_request, to_alpaca_request
from trading_monitor.broker.reader import rows
from trading_monitor.broker.transport import BudgetedSession, RequestBudget, shared_budget
from trading_monitor.domain.order_status import OrderStatus
from trading_monitor.exceptions import (
    BrokerContractError,
    FatalError,
    RejectedError,
    TemporaryError,
)
from trading_monitor.settings.config import Settings, load_settings

log = logging.getLogger(__name__)
T = TypeVar("T")

def _secret(value: Any) -> str:
    return value.get_secret_value() if value is not None else ""


def _check_live_allowed(settings: Settings) -> None:
    if settings.is_live and not settings.alpaca_live_trading_confirmed:
        raise FatalError("live trading needs ALPACA_PAPER=false and ALPACA_LIVE_TRADING_CONFIRMED")


def _install_session(client: Any, session: BudgetedSession) -> None:
    # alpaca-py's RESTClient keeps these as attributes; pinned to alpaca-py 0.44 in pyproject,
    # and tests/integration/test_broker_adapter.py proves they still take effect.
    client._session = session
    client._retry = 0


def get_trading_client(settings: Settings | None = None, session: BudgetedSession | None = None,
                       *, reads_only: bool = False) -> TradingClient:
    """A TradingClient (paper unless live is explicitly confirmed) on our transport.
    `reads_only`: for a caller that never sends an order (validate-paper --shapes), which
    may read a live account without ALPACA_LIVE_TRADING_CONFIRMED."""
    settings = settings or load_settings(need_broker=True)
    if not reads_only:
        _check_live_allowed(settings)
    # raw_data: alpaca-py builds the requests and we read the answers (broker/convert.py);
    # its strict response models fail on fields Alpaca removes or enum values it adds.
    client = TradingClient(_secret(settings.alpaca_api_key), _secret(settings.alpaca_secret_key),
                           paper=settings.alpaca_paper, raw_data=True,
                           url_override=settings.alpaca_base_url)
    _install_session(client, session or _session_for(settings))
    return client


def get_data_client(settings: Settings | None = None, session: BudgetedSession | None = None
                    ) -> StockHistoricalDataClient:
    settings = settings or load_settings(need_broker=True)
    client = StockHistoricalDataClient(_secret(settings.alpaca_api_key),
                                       _secret(settings.alpaca_secret_key),
                                       raw_data=True, url_override=settings.alpaca_data_url)
    _install_session(client, session or _session_for(settings))
    return client


def _session_for(settings: Settings) -> BudgetedSession:
    return BudgetedSession(shared_budget(settings.broker_requests_per_minute),
                           settings.broker_timeout_seconds)


def _backoff(attempt: int) -> float:
    return min(0.2 * 2 ** attempt, 2.0)


class AlpacaBroker(FeedMixin, AccountReadsMixin, ActivitiesMixin, CorporateActionsMixin):
    """The Broker on alpaca-py; open orders and fills come from FeedMixin, the account and
    market reads from AccountReadsMixin."""

    def __init__(self, settings: Settings, *, budget: RequestBudget | None = None,
                 submit_attempts: int = 3, sleep: Callable[[float], None] = time.sleep):
        self._session = BudgetedSession(
            budget or shared_budget(settings.broker_requests_per_minute),
            settings.broker_timeout_seconds)
        # Typed Any: alpaca-py annotates every result as `Model | RawData`.
        self._trading: Any = get_trading_client(settings, self._session)
        self._data: Any = get_data_client(settings, self._session)
        self._read_retries = settings.broker_read_retries
        self._submit_attempts = max(1, submit_attempts)
        self._sleep = sleep
        self.paper = settings.alpaca_paper

    def __repr__(self) -> str:
        return f"AlpacaBroker(paper={self.paper}, {self._session!r})"

    @property
    def requests_sent(self) -> int:
        return self._session.requests_sent

    # -- plumbing ---------------------------------------------------------------------------

    def _call(self, fn: Callable[[], T], *, order_request: bool = False) -> T:
        try:
            return fn()
        except Exception as exc:
            raise classify(exc, self._session.last_retry_after,
                           order_request=order_request) from None

    def _parse(self, endpoint: str, parse: Callable[[], T]) -> T:
        """Read an answer; a broken contract is alerted at once and noted for the run."""
        try:
            result = parse()
        except BrokerContractError as exc:
            contract.broken(exc)
            raise
        contract.read_ok(endpoint)
        return result

    def _read(self, fn: Callable[[], T], *, order_request: bool = False) -> T:
        """Reads (and cancels) are safe to repeat: retry temporary failures with a backoff."""
        for attempt in range(self._read_retries + 1):
            try:
                return self._call(fn, order_request=order_request)
            except TemporaryError as exc:
                if attempt == self._read_retries:
                    raise
                self._sleep(_backoff(attempt))
                log.info("retrying broker read after: %s", exc)
        raise AssertionError("unreachable")

    def _read_or_none(self, fn: Callable[[], T]) -> T | None:
        try:
            return self._read(fn)
        except NotFoundError:
            return None

    # -- orders -----------------------------------------------------------------------------

    def submit_order(self, request: OrderRequest) -> BrokerOrder:
        last: TemporaryError | None = None
        for attempt in range(self._submit_attempts):
            if attempt:
                found = self.get_order_by_client_id(request.client_order_id)
                if found is not None:
                    log.info("unclear submit settled: %s is at the broker", request.client_order_id)
                    return found
                self._sleep(_backoff(attempt))
            try:
                raw = self._call(lambda: self._trading.submit_order(to_alpaca_request(request)),
                                 order_request=True)
            except DuplicateClientOrderId:
                found = self.get_order_by_client_id(request.client_order_id)
                if found is not None:
                    return found
                raise TemporaryError(
                    f"{request.client_order_id} is taken at the broker but not visible yet"
                ) from None
            except TemporaryError as exc:
                last = exc
                log.warning("submit of %s unclear (%s); looking it up", request.client_order_id,
                            exc)
                continue
            # Accepted: an answer we cannot read is settled by looking the order up.
            return self._order_or_lookup(raw, "POST /v2/orders", request.client_order_id)
        found = self.get_order_by_client_id(request.client_order_id)
        if found is not None:
            return found
        raise TemporaryError(f"submit of {request.client_order_id} failed and the order is not at "
                             f"the broker; it stays pending: {last}",
                             retry_after=last.retry_after if last else None)

    def _order_or_lookup(self, raw: Any, endpoint: str, client_order_id: str) -> BrokerOrder:
        """The 200 of a POST/PATCH; one that breaks the contract is alerted, and the order is
        read back by its client order id (never sent again)."""
        try:
            return self._parse(endpoint, lambda: convert.order(raw, endpoint))
        except BrokerContractError:
            found = self.get_order_by_client_id(client_order_id)
            if found is None:
                raise
            return found

    def get_order(self, order_id: str) -> BrokerOrder | None:
        endpoint = "GET /v2/orders/{id}"
        found = self._read_or_none(lambda: self._trading.get_order_by_id(
            order_id, filter=nested_request()))
        return None if found is None else self._parse(endpoint,
                                                      lambda: convert.order(found, endpoint))

    def get_order_by_client_id(self, client_order_id: str) -> BrokerOrder | None:
        endpoint = "GET /v2/orders:by_client_order_id"
        found = self._read_or_none(lambda: self._trading.get_order_by_client_id(client_order_id))
        return None if found is None else self._parse(endpoint,
                                                      lambda: convert.order(found, endpoint))

    def list_orders_submitted_since(self, after: datetime) -> list[BrokerOrder]:
        """Orders SUBMITTED after `after`, 500 per request. Alpaca filters on submission
        time only: an old order that changed since is not in this list.

        Pages overlap by a microsecond so orders sharing the last timestamp of a full page
        are not skipped; ids already seen are dropped.
        """
        orders: dict[str, BrokerOrder] = {}
        cursor = after
        while True:
            query = GetOrdersRequest(status=QueryOrderStatus.ALL, after=cursor, limit=500,
                                     direction=Sort.ASC, nested=True)
            page = self._orders(partial(self._trading.get_orders, query))
            fresh = [o for o in page if o.id not in orders]
            orders.update((o.id, o) for o in fresh)
            stamps = [o.submitted_at for o in page if o.submitted_at is not None]
            if len(page) < 500 or not fresh or not stamps:
                return list(orders.values())
            cursor = max(stamps) - timedelta(microseconds=1)

    def _orders(self, fetch: Callable[[], Any]) -> list[BrokerOrder]:
        endpoint = "GET /v2/orders"
        page = self._read(fetch)
        return self._parse(endpoint, lambda: [convert.order(o, endpoint)
                                              for o in rows(page, endpoint)])

    def cancel_order(self, order_id: str) -> None:
        """Idempotent: an order already canceled (say by a retried DELETE) is not an error."""
        try:
            self._read(lambda: self._trading.cancel_order_by_id(order_id), order_request=True)
        except NotFoundError:
            raise
        except RejectedError:
            current = self.get_order(order_id)
            gone = current is not None and OrderStatus(current.status).withdrawn
            if not gone and (current is None or current.status != "pending_cancel"):
                raise

    def replace_order(self, order_id: str, *, qty: Decimal | None = None,
                      limit_price: Decimal | None = None,
                      stop_price: Decimal | None = None,
                      client_order_id: str | None = None) -> BrokerOrder:
        """PATCH: the broker makes a new order (`client_order_id`, ours, when given)."""
        if qty is not None and qty != qty.to_integral_value():
            raise RejectedError(f"replacement qty {qty} is not a whole number of shares; "
                                "never truncated")
        req = ReplaceOrderRequest(qty=int(qty) if qty is not None else None,
                                  limit_price=as_float(limit_price),
                                  stop_price=as_float(stop_price),
                                  client_order_id=client_order_id)
        try:
            raw = self._call(lambda: self._trading.replace_order_by_id(order_id, req),
                             order_request=True)
        except TemporaryError:
            # A replace is not idempotent (each makes a new order): settle it by reading back.
            found = self._replacement_of(order_id, client_order_id)
            if found is not None:
                return found
            raise
        endpoint = "PATCH /v2/orders/{id}"
        try:
            return self._parse(endpoint, lambda: convert.order(raw, endpoint))
        except BrokerContractError:
            found = self._replacement_of(order_id, client_order_id)
            if found is None:
                raise
            return found

    def _replacement_of(self, order_id: str, client_order_id: str | None) -> BrokerOrder | None:
        found = self.get_order_by_client_id(client_order_id) if client_order_id else None
        old = None if found else self.get_order(order_id)
        if found is None and old is not None and old.replaced_by:
            found = self.get_order(old.replaced_by)
        return found
