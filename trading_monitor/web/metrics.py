"""`/metrics`: Prometheus text from prometheus-client, read fresh from our tables at each
scrape (one read-only connection), plus this process's broker request counters.

Every name starts with `trading_monitor_`; docs/operations.md lists them and
deployment/prometheus/alerts.yml and deployment/grafana/ use them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from trading_monitor.broker.transport import TALLY
from trading_monitor.cli import book
from trading_monitor.clock import system_clock
from trading_monitor.cockpit.health import messages_failed
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.queries import Queries
from trading_monitor.engine.halts import halt_states
from trading_monitor.engine.incident_state import open_incident
from trading_monitor.settings.config import Settings
from trading_monitor.web import data

QUERIES = Queries(__name__)  # queries.sql beside this module

log = logging.getLogger(__name__)
P = "trading_monitor_"
FILL_TO_STOP_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300)
DECISION_TO_ORDER_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 900, 3600)



@dataclass
class Process:
    """What only the daemon process knows: its role and its order stream."""

    is_leader: Callable[[], bool] = lambda: False
    stream_connected: Callable[[], bool] = lambda: False


def gauge(name: str, doc: str, value: float | None = None, labels: list[str] | None = None,
          rows: list[tuple[list[str], float]] | None = None) -> GaugeMetricFamily:
    metric = GaugeMetricFamily(P + name, doc, value=value, labels=labels)
    for label_values, v in rows or []:
        metric.add_metric(label_values, v)
    return metric


def histogram(name: str, doc: str, values: list[float], buckets: tuple[float, ...]
              ) -> HistogramMetricFamily:
    counts = [(repr(float(b)), float(sum(1 for v in values if v <= b))) for b in buckets]
    metric = HistogramMetricFamily(P + name, doc, unit="")
    metric.add_metric([], [*counts, ("+Inf", float(len(values)))], sum_value=float(sum(values)))
    return metric


class BooksCollector(Collector):
    def __init__(self, db_config: dict[str, Any], settings: Settings, process: Process):
        self.db_config, self.settings, self.process = db_config, settings, process

    def collect(self) -> Iterator[Metric]:
        yield gauge("leader", "1 on the daemon holding the leader lock (it trades), else 0",
                    float(self.process.is_leader()))
        yield gauge("stream_connected", "1 while this daemon's trade_updates stream is "
                    "connected (only the leader listens)", float(self.process.stream_connected()))
        requests = CounterMetricFamily(P + "broker_requests", "broker HTTP requests this "
                                       "process sent", value=TALLY.requests)
        yield requests
        yield CounterMetricFamily(P + "broker_rate_limited", "broker answers 429 (too many "
                                  "requests) this process received", value=TALLY.rate_limited)
        try:
            with TradingDB(config=self.db_config, read_only=True,
                           application_name="trading-monitor metrics") as db:
                found = list(self._books(db))
        except Exception as exc:  # a scrape never raises: it says the books are unreadable
            log.warning("metrics: the books could not be read: %s", type(exc).__name__)
            found = []
        yield gauge("books_up", "1 when this scrape read the database", float(bool(found)))
        yield from found

    def _books(self, db: TradingDB) -> Iterator[Metric]:
        held = data.positions(db)
        naked = [p for p in held if p.unprotected_qty > 0]
        yield gauge("open_positions", "open positions of ours", len(held))
        yield gauge("unprotected_positions", "open positions without a live stop at the "
                    "broker for every share", len(naked))
        yield gauge("unprotected_shares", "shares held without a live stop",
                    float(sum(p.unprotected_qty for p in naked)))
        yield gauge("at_risk_dollars", "dollars lost from the last marks if every stop fills",
                    float(data.total_at_risk(held)))
        runs = book.read(db, QUERIES["last_success"])
        yield gauge("job_last_success_age_seconds", "seconds since each job's last success",
                    labels=["job_name"], rows=[([r["job_name"]], float(r["age"])) for r in runs])
        yield gauge("job_last_success_timestamp_seconds", "when each job last succeeded "
                    "(Unix time)", labels=["job_name"],
                    rows=[([r["job_name"]], float(r["at"])) for r in runs])
        yield from self._state(db)
        outcomes = CounterMetricFamily(P + "decision_outcomes", "decisions settled, by "
                                       "terminal state", labels=["state"])
        counts = {r["terminal_state"]: int(r["n"]) for r in book.read(db, QUERIES["outcomes"])}
        for state in ("EXECUTED", "REJECTED", "SKIPPED"):
            outcomes.add_metric([state], counts.get(state, 0))
        yield outcomes
        yield histogram("fill_to_stop_seconds", "seconds from an entry's first fill until its "
                        "stop was live at the broker", [float(r["s"]) for r in book.read(
                            db, QUERIES["fill_to_stop"])], FILL_TO_STOP_BUCKETS)
        yield histogram("decision_to_order_seconds", "seconds from a decision's row to its "
                        "entry order at the broker", [float(r["s"]) for r in book.read(
                            db, QUERIES["decision_to_order"])], DECISION_TO_ORDER_BUCKETS)
        failed, _ = messages_failed(db, system_clock())
        yield gauge("messages_failed_24h", "per-event messages to NOTIFY_URLS given up on "
                    "(NOTIFY_MAX_ATTEMPTS failed) in the last 24 hours", float(failed))
        day = book.trading_day(system_clock())
        pnl = book.pnl_today(db, day, book.open_trades(db))
        yield gauge("pnl_today_dollars", "P&L today (New York day)", labels=["kind"],
                    rows=[([k], float(pnl[k])) for k in ("realised", "unrealised", "total")])
        equity = book.read(db, QUERIES["equity"])
        if equity:
            yield gauge("equity_dollars", "account equity at the last read (position-monitor "
                        "run or broker snapshot)",
                        float(equity[0]["equity"]))

    def _state(self, db: TradingDB) -> Iterator[Metric]:
        recon = db.named("system_value", {"key": "reconciliation_status"})
        status = str(recon[0]["value"]) if recon and recon[0]["value"] else None
        if status is not None:
            yield gauge("reconciliation_ok", "1 when the last reconciliation passed, 0 FAIL",
                        float(status == "PASS"))
        yield gauge("reconciliation_incident", "1 while a reconciliation incident is open",
                    float(open_incident(db) is not None))
        states = halt_states(db, book.trading_day(system_clock()), self.settings.trading_halted)
        yield gauge("halt_active", "1 while the halt is in force (new entries refused)",
                    labels=["halt"], rows=[([str(h["key"])], float(bool(h["active"])))
                                           for h in states])
        beat = book.read(db, QUERIES["leader_beat"])
        if beat and beat[0]["age"] is not None:
            yield gauge("leader_heartbeat_age_seconds", "seconds since the leader's last "
                        "heartbeat row", float(beat[0]["age"]))


def registry(db_config: dict[str, Any], settings: Settings, process: Process
             ) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(BooksCollector(db_config, settings, process))
    return reg


def render(reg: CollectorRegistry) -> bytes:
    return generate_latest(reg)
