"""Measurements 1 and 2: an order-monitor cycle with N open orders (nothing changed, then 1%
filled) and a position-monitor cycle with N positions, each beside the seed's pass."""

from __future__ import annotations

from trading_monitor.db.connection import TradingDB
from trading_monitor.order_monitor.service import monitor_once
from trading_monitor.position_monitor.service import position_monitor_once

from .baseline import baseline_order_poll, baseline_position_poll, baseline_snapshot
from .book import build_book
from .costs import Compared, Cost, costed, median_cost
from .lab import PRICE, SYMBOLS, Exchange, Lab, settings_for, unlimited_broker


def measure_order_monitor(lab: Lab, n: int) -> list[Compared]:
    """N resting bracket entries (a limit 10% below the market); 1% of them 4% below, so a
    price move fills exactly those."""
    limits = [PRICE - 2 if i % 100 == 0 else PRICE - 5 for i in range(n)]
    params = lab.dbs.fresh()
    with Exchange() as ex:
        ex.control.set_prices({s: str(PRICE) for s in SYMBOLS})
        settings = settings_for(ex)
        broker = unlimited_broker(settings)
        build_book(params, ex, settings, broker, limits)
        monitor_once(params, broker, settings, now=ex.now)  # the first sync settles them once
        baseline_snapshot(params)
        ex.latency(lab.latency_ms)
        ours: list[Cost] = []
        seed: list[Cost] = []
        for _ in range(lab.repeats):
            with costed(ex, ours):
                report = monitor_once(params, broker, settings, now=ex.now)
            assert report.sync.orders_changed == 0 and not report.actions, report.summary
        with costed(ex, seed):  # N x the latency, whatever else: once is enough
            assert baseline_order_poll(params, broker) == 0
        idle = Compared(n, "nothing changed", median_cost(ours), median_cost(seed))
        # 1% of the entries fill: one price move on every symbol, then one cycle each
        ex.latency(0)
        ex.control.set_prices({s: str(PRICE - 3) for s in SYMBOLS})
        ex.latency(lab.latency_ms)
        filled: list[Cost] = []
        seed_filled: list[Cost] = []
        with costed(ex, filled):
            report = monitor_once(params, broker, settings, now=ex.now)
        with costed(ex, seed_filled):
            changed = baseline_order_poll(params, broker)
        fills = report.sync.new_fills
        ex.latency(0)
    lab.dbs.drop(params)
    return [idle, Compared(n, "1% filled", filled[0], seed_filled[0],
                           f"entries filled: {fills}; orders the seed saw change: {changed}")]



# -- 2. the position monitor: N positions ------------------------------------------------------

def measure_position_monitor(lab: Lab, n: int) -> list[Compared]:
    """N one-share staged positions (marketable entries), each protected by its own OCO,
    on the dozen symbols of the exchange: the broker holds about a dozen positions."""
    params = lab.dbs.fresh()
    with Exchange() as ex:
        ex.control.set_prices({s: str(PRICE) for s in SYMBOLS})
        settings = settings_for(ex, PROTECTION_MODE="staged")
        broker = unlimited_broker(settings)
        build_book(params, ex, settings, broker, [PRICE + 1] * n, protect=True)
        with TradingDB(config=params) as db:
            [row] = db.execute_query("SELECT count(*) AS n FROM position_tracking")
            assert row["n"] == n, row
        position_monitor_once(params, broker, settings, now=ex.now)  # START snapshot, marks
        baseline_snapshot(params)
        ex.latency(lab.latency_ms)
        ours: list[Cost] = []
        seed: list[Cost] = []
        for _ in range(lab.repeats):
            with costed(ex, ours):
                report = position_monitor_once(params, broker, settings, now=ex.now)
            assert not report.actions, report.summary
        with costed(ex, seed):
            assert baseline_position_poll(params, broker) == n
        ex.latency(0)
    lab.dbs.drop(params)
    return [Compared(n, f"{n} positions", median_cost(ours), seed[0],
                     f"{len(SYMBOLS)} symbols at the broker")]

