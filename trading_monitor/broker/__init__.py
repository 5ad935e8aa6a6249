"""The broker boundary: jobs speak to `Broker`; only alpaca.py touches alpaca-py."""

from trading_monitor.broker.base import Broker
from trading_monitor.broker.models import (
    BrokerAccount,
    BrokerAsset,
    BrokerOrder,
    BrokerPosition,
    FillActivity,
    MarketClock,
    OrderRequest,
)

__all__ = [
    "Broker", "BrokerAccount", "BrokerAsset", "BrokerOrder", "BrokerPosition", "FillActivity",
    "MarketClock", "OrderRequest",
]
