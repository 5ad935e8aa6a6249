"""The broker boundary: jobs speak to `Broker`; only this package touches alpaca-py."""

from trading_monitor.broker.base import Broker
from trading_monitor.broker.models import (
    BrokerAccount,
    BrokerAsset,
    BrokerOrder,
    BrokerPosition,
    FillActivity,
    MarketClock,
    OrderRequest,
    TradeEvent,
)

__all__ = [
    "Broker", "BrokerAccount", "BrokerAsset", "BrokerOrder", "BrokerPosition", "FillActivity",
    "MarketClock", "OrderRequest", "TradeEvent",
]
