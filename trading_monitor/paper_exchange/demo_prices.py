"""Where the exchange starts the examples' symbols, in --test-mode and as `trading-monitor
paper-exchange` alike, so the examples (trading_monitor/testmode/examples.py, README.md,
docs/n8n.md) are accepted by both: within MAX_PRICE_DEVIATION_PCT of the market."""

DEMO_PRICES = {"AAPL": "181.20", "MSFT": "421.35", "NVDA": "131.10"}
