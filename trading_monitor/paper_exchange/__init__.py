"""An Alpaca-compatible paper exchange that the real alpaca-py SDK can be pointed at.

See docs/paper-exchange.md. Importing this package does no I/O; `PaperExchange.start()`
binds the port.
"""

from trading_monitor.paper_exchange.control_client import ControlError, ExchangeControl
from trading_monitor.paper_exchange.server import PaperExchange

__all__ = ["ControlError", "ExchangeControl", "PaperExchange"]
