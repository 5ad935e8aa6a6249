"""Measurement 3: the executor under Alpaca's 200/min (ours with its limiter, the same job
with it off), and the executor with no rate limit at all (what benchmark_executor.py measured)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import requests

from trading_monitor.broker.transport import RequestBudget
from trading_monitor.db.connection import TradingDB
from trading_monitor.order_executor.service import execute_once

from .book import add_decision
from .lab import (
    ALPACA_PER_MIN,
    KEYS,
    OUR_PER_MIN,
    PRICE,
    PRICE_CHECKS,
    SYMBOLS,
    CountingBroker,
    Exchange,
    Lab,
    settings_for,
    unlimited_broker,
)


@dataclass
class RateRun:
    n: int
    who: str
    requests: int
    seconds: float
    too_many: int
    executed: int
    deferred: int

    def share(self, scale: float) -> float:
        """Requests per minute as a share of Alpaca's 200/min (time-scaled)."""
        return self.requests / (self.seconds / 60) / (ALPACA_PER_MIN * scale)


def _drain_ours(broker: CountingBroker) -> None:
    """Spend our limiter's bucket (and, by the same requests, the exchange's) until a request
    has to wait for its slot: the run starts in the middle of a busy session, not on a full
    minute's burst."""
    for _ in range(100_000):
        started = time.perf_counter()
        broker.get_clock()
        if time.perf_counter() - started > 0.03:
            return


def _drain_exchange(ex: Exchange) -> None:
    """Spend the exchange's bucket with plain requests until it answers 429."""
    headers = {"APCA-API-KEY-ID": KEYS["ALPACA_API_KEY"],
               "APCA-API-SECRET-KEY": KEYS["ALPACA_SECRET_KEY"]}
    with requests.Session() as session:
        session.trust_env = False
        for _ in range(100_000):
            if session.get(ex.url + "/v2/clock", headers=headers, timeout=10).status_code == 429:
                return


def measure_executor(lab: Lab, n: int) -> tuple[RateRun, RateRun | None]:
    """N NEW_TRADE decisions (resting bracket entries) in one cycle with the exchange's
    limiter at 200/min and ours at BROKER_REQUESTS_PER_MINUTE's 190/min, both sped up by
    `lab.time_scale`; then the same decisions with our limiter off (the seed's plan has no
    limiter of its own), where the exchange's 429s are the only brake."""
    runs: list[RateRun] = []
    with_seed = lab.seed_executor_up_to is None or n <= lab.seed_executor_up_to
    for who in ("ours", "seed") if with_seed else ("ours",):
        params = lab.dbs.fresh()
        with Exchange() as ex:
            ex.control.set_prices({s: str(PRICE) for s in SYMBOLS})
            settings = settings_for(ex, **PRICE_CHECKS)
            with TradingDB(config=params) as db:
                for i in range(n):
                    add_decision(db, SYMBOLS[i % len(SYMBOLS)], limit=PRICE - 2,
                                 stop=PRICE - 5, target=PRICE + 10)
            ex.control.set_rate_limit(round(ALPACA_PER_MIN * lab.time_scale))
            if who == "ours":
                broker = CountingBroker(settings, RequestBudget(
                    round(OUR_PER_MIN * lab.time_scale), max_wait=120))
                _drain_ours(broker)
            else:
                broker = unlimited_broker(settings)
                _drain_exchange(ex)
            ex.latency(lab.latency_ms)
            ex.control.reset_counters()
            broker.too_many = 0
            started = time.perf_counter()
            report = execute_once(params, broker, settings, now=ex.now)
            seconds = time.perf_counter() - started
            sent = sum(ex.requests().values())
            ex.latency(0)
        lab.dbs.drop(params)
        runs.append(RateRun(n, who, sent, seconds, broker.too_many, report.count("EXECUTED"),
                            report.count("DEFERRED")))
    return runs[0], runs[1] if with_seed else None



def measure_executor_capacity(lab: Lab, n: int) -> dict[str, Any]:
    """N NEW_TRADE decisions in one cycle with no rate limit anywhere: what the latency alone
    allows, the requests per decision and the fixed reads per cycle."""
    params = lab.dbs.fresh()
    with Exchange() as ex:
        ex.control.set_prices({s: str(PRICE) for s in SYMBOLS})
        settings = settings_for(ex, **PRICE_CHECKS)
        broker = unlimited_broker(settings)
        with TradingDB(config=params) as db:
            for i in range(n):
                add_decision(db, SYMBOLS[i % 10], limit=PRICE - 2, stop=PRICE - 5,
                             target=PRICE + 10)
        ex.latency(lab.latency_ms)
        ex.control.reset_counters()
        started = time.perf_counter()
        report = execute_once(params, broker, settings, now=ex.now)
        elapsed = time.perf_counter() - started
        counters = ex.requests()
        idle = execute_once(params, broker, settings, now=ex.now)
        ex.latency(0)
    lab.dbs.drop(params)
    fixed = sum(counters.get(k, 0) for k in ("GET /v2/account", "GET /v2/positions",
                                              "GET /v2/clock", "GET /v2/stocks/snapshots",
                                              "GET /v2/stocks/trades/latest"))
    total = sum(counters.values())
    return {
        "decisions": n, "latency_ms": lab.latency_ms, "symbols": min(n, 10),
        "executed": report.count("EXECUTED"), "seconds": round(elapsed, 2),
        "decisions_per_second": round(n / elapsed, 1), "broker_requests": total,
        "requests_per_new_trade": round(total / n, 3),
        "order_posts": counters.get("POST /v2/orders", 0), "fixed_reads_per_cycle": fixed,
        "asset_lookups (one per distinct symbol)":
            counters.get("GET /v2/assets/{symbol_or_asset_id}", 0),
        "requests_in_a_cycle_with_nothing_to_do": idle.broker_requests,
    }
