"""trading-monitor: carries trade decisions from PostgreSQL through their whole life on Alpaca."""

__version__ = "0.1.0"
