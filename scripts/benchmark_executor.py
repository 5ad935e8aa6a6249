#!/usr/bin/env python3
"""Benchmark the order executor against the paper exchange with added latency.

    python scripts/benchmark_executor.py                 # 100 decisions, 50 ms per request
    python scripts/benchmark_executor.py --decisions 300 --latency-ms 0

Reports wall time, broker requests per NEW_TRADE decision (from the exchange's own
counters) and the fixed per-cycle reads. Uses an embedded PostgreSQL unless
TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from contextlib import ExitStack

from psycopg2.extensions import parse_dsn

from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.transport import RequestBudget
from trading_monitor.config import load_settings
from trading_monitor.db_layer import TradingDB
from trading_monitor.embedded_pg import EmbeddedPostgres
from trading_monitor.environment import DEMO_START
from trading_monitor.order_executor.service import execute_once
from trading_monitor.paper_exchange import PaperExchange

SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "SPY", "QQQ", "IWM"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decisions", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args()
    with ExitStack() as stack:
        url = os.environ.get("TEST_DATABASE_URL")
        params = dict(parse_dsn(url)) if url else stack.enter_context(EmbeddedPostgres()).params
        exchange = stack.enter_context(PaperExchange(seed=7, start=DEMO_START,
                                                     clock_mode="stepped",
                                                     rate_limit_per_min=None).start())
        exchange.control.set_prices({s: "100.00" for s in SYMBOLS})
        settings = load_settings({
            "ALPACA_API_KEY": "bench-key", "ALPACA_SECRET_KEY": "bench-secret",
            "ALPACA_BASE_URL": exchange.url, "ALPACA_DATA_URL": exchange.url,
            "MAX_NOTIONAL_PER_ORDER": "off", "MAX_OPEN_POSITIONS": "off",
            "MAX_TOTAL_EXPOSURE": "off", "BLOCK_DUPLICATE_ENTRY": "false",
        }, need_broker=True)
        with TradingDB(config=params) as db:
            db.create_schema()
            for i in range(args.decisions):
                symbol = SYMBOLS[i % len(SYMBOLS)]
                db.insert("analysis_decision", {"ticker": symbol, "primary_action": "NEW_TRADE",
                                                "decision": {
                    "ticker": symbol, "primary_action": "NEW_TRADE", "side": "BUY",
                    "trade_style": "SWING", "entry_price": "95.00", "stop_loss": "90.00",
                    "take_profit": "110.00", "quantity": 1}})
        broker = AlpacaBroker(settings, budget=RequestBudget(1_000_000))
        if args.latency_ms:
            exchange.control.set_fault("*", "latency", ms=args.latency_ms, probability=1.0)
        exchange.control.reset_counters()
        started = time.perf_counter()
        report = execute_once(params, broker, settings, now=exchange.venue.clock.now)
        elapsed = time.perf_counter() - started
        counters = exchange.control.counters()
        idle = execute_once(params, broker, settings, now=exchange.venue.clock.now)
    posts = counters.get("POST /v2/orders", 0)
    fixed = sum(counters.get(k, 0) for k in ("GET /v2/account", "GET /v2/positions",
                                              "GET /v2/clock", "GET /v2/stocks/trades/latest"))
    assets = counters.get("GET /v2/assets/{symbol_or_asset_id}", 0)
    result = {
        "decisions": args.decisions, "latency_ms": args.latency_ms,
        "executed": report.count("EXECUTED"), "seconds": round(elapsed, 2),
        "decisions_per_second": round(args.decisions / elapsed, 1),
        "broker_requests": sum(counters.values()),
        "requests_per_new_trade": round(sum(counters.values()) / args.decisions, 3),
        "order_posts": posts, "fixed_reads_per_cycle": fixed,
        "asset_lookups (one per distinct symbol)": assets,
        "requests_in_a_cycle_with_nothing_to_do": idle.broker_requests,
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
