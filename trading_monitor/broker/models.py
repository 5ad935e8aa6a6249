"""Broker-neutral value objects; the jobs never see alpaca-py models."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from trading_monitor.domain.market import MarketSnapshot

__all__ = ["AccountActivity", "BrokerAccount", "BrokerAsset", "BrokerOrder", "BrokerPosition",
           "CalendarDay", "FillActivity", "MarketClock", "MarketSnapshot", "OrderRequest",
           "TradeEvent"]


@dataclass(frozen=True)
class OrderRequest:
    client_order_id: str
    symbol: str
    side: str  # buy | sell
    qty: Decimal
    order_type: str  # market | limit | stop | stop_limit
    time_in_force: str  # day | gtc
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    order_class: str = "simple"  # simple | bracket | oto | oco
    take_profit_limit: Decimal | None = None
    stop_loss_stop: Decimal | None = None


@dataclass(frozen=True)
class BrokerOrder:
    id: str
    client_order_id: str
    symbol: str
    side: str
    qty: Decimal
    order_type: str
    order_class: str
    time_in_force: str
    status: str
    filled_qty: Decimal
    filled_avg_price: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    submitted_at: datetime | None = None
    filled_at: datetime | None = None
    updated_at: datetime | None = None
    replaced_by: str | None = None
    replaces: str | None = None
    legs: tuple[BrokerOrder, ...] = ()
    canceled_at: datetime | None = None
    expired_at: datetime | None = None
    expires_at: datetime | None = None  # Alpaca's aged-order policy (GTC orders)

    def leg(self, order_type: str) -> BrokerOrder | None:
        return next((leg for leg in self.legs if leg.order_type == order_type), None)


@dataclass(frozen=True)
class BrokerPosition:
    symbol: str
    qty: Decimal  # negative for shorts
    avg_entry_price: Decimal
    current_price: Decimal | None
    market_value: Decimal | None
    unrealized_pl: Decimal | None
    # Kept as Alpaca sent it; only `us_equity` is ever traded, adopted, protected or
    # flattened (the adapter's get_positions returns those only).
    asset_class: str = "us_equity"

    @property
    def side(self) -> str:
        return "long" if self.qty > 0 else "short"

    @property
    def managed(self) -> bool:
        return self.asset_class == "us_equity"


@dataclass(frozen=True)
class BrokerAccount:
    equity: Decimal
    last_equity: Decimal
    cash: Decimal
    buying_power: Decimal
    trading_blocked: bool
    account_blocked: bool
    status: str
    account_id: str = ""  # Alpaca's account id: which account the books describe
    # What the account says its positions are worth (None: not sent); a positions list
    # that comes back empty while these are not zero is not believed (fail-closed).
    long_market_value: Decimal | None = None
    short_market_value: Decimal | None = None


@dataclass(frozen=True)
class MarketClock:
    timestamp: datetime
    is_open: bool
    next_open: datetime
    next_close: datetime


@dataclass(frozen=True)
class CalendarDay:
    date: date
    open: datetime
    close: datetime


@dataclass(frozen=True)
class BrokerAsset:
    symbol: str
    tradable: bool
    status: str
    shortable: bool
    asset_class: str = "us_equity"
    # Since 2026-06 Alpaca's word on borrowing (easy_to_borrow was removed on 2026-11-24);
    # None when the body has none.
    borrow_status: str | None = None
    easy_to_borrow: bool | None = None  # read only where a body still carries it

    def problem(self, side: str = "buy") -> str | None:
        """Why an entry on `side` ("sell" opens a short) must not go out, if it must not."""
        if self.asset_class != "us_equity":
            return (f"{self.symbol} is of asset class {self.asset_class!r}; trading-monitor "
                    "trades US equities only")
        if self.status != "active":
            return f"{self.symbol} is not an active asset (status {self.status})"
        if not self.tradable:
            return f"{self.symbol} is not tradable at the broker"
        return self.short_problem() if side == "sell" else None

    def short_problem(self) -> str | None:
        if not self.shortable:
            return f"{self.symbol} is not shortable at the broker"
        if self.borrow_status is None:
            # An older body's easy_to_borrow is not enough: Alpaca's word is borrow_status.
            return f"{self.symbol}: borrow status unknown; a short needs easy_to_borrow"
        if self.borrow_status != "easy_to_borrow":
            return (f"{self.symbol} is {self.borrow_status} (borrow_status); a short needs "
                    "easy_to_borrow")
        return None


@dataclass(frozen=True)
class FillActivity:
    id: str
    order_id: str
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    transaction_time: datetime
    cum_qty: Decimal | None = None  # the order's filled qty after this execution
    leaves_qty: Decimal | None = None  # what is left of the order after it
    kind: str = "fill"  # "fill" (the order is now complete) or "partial_fill"


@dataclass(frozen=True)
class AccountActivity:
    """A non-trade activity: FEE, CSD (deposit), CSW (withdrawal), SPLIT, NC, CIL, ...
    Every field but the id and type is optional (each type carries its own)."""

    id: str
    activity_type: str
    sub_type: str | None = None
    date: str | None = None  # the New York date Alpaca books it on (YYYY-MM-DD)
    created_at: datetime | None = None
    net_amount: Decimal | None = None  # cash in (+) or out (-)
    symbol: str | None = None
    qty: Decimal | None = None
    per_share_amount: Decimal | None = None
    order_id: str | None = None  # a FEE's parent order, where Alpaca gives one
    description: str | None = None
    status: str | None = None  # executed, correct, canceled


@dataclass(frozen=True)
class TradeEvent:
    """One trade_updates message. `event` is Alpaca's raw name, also for names alpaca-py's
    enum lacks (held, done_for_day, order_cancel_rejected, ...). Fill events carry that one
    execution's `price` and `qty`, and the position's qty after it."""

    event: str
    order: BrokerOrder
    execution_id: str | None = None
    price: Decimal | None = None
    qty: Decimal | None = None
    position_qty: Decimal | None = None
    at: datetime | None = None
