#!/usr/bin/env python3
"""The benchmark: the real jobs against the paper exchange, with 50 ms added to every request,
beside the seed's polling plan run on the same book. A benchmark, not a test.

    python scripts/benchmark.py                  # the full run (N = 10, 100, 1,000; five days)
    python scripts/benchmark.py --quick          # N = 10 and 100, fewer samples, three days
    python scripts/benchmark.py --only monitor,positions --sizes 10,100 --out /tmp/perf.md
    python scripts/benchmark.py --executor-only --decisions 100   # the old benchmark_executor.py

It writes docs/performance.md (one table per measurement, each figure also as a ratio to the
seed's plan, the machine and the command). Measurements (`--only`): monitor, positions,
executor, capacity (the executor with no rate limit), window, daemon. The paper exchange runs
in its own process with a stepped clock; PostgreSQL is embedded unless TEST_DATABASE_URL is
set. The full run takes about 14 minutes on 2 cores, --quick about 2.

The baseline is seed 002's plan (TASK-011 and TASK-014): poll Alpaca once per pending order
(GET /v2/orders/{id}) and once per open position (the latest trade of its symbol). It lives
here, in the benchmark, never in the product.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import psycopg2
import requests
from psycopg2 import sql
from psycopg2.extensions import parse_dsn

from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.transport import RequestBudget
from trading_monitor.config import Settings, load_settings
from trading_monitor.db_layer import TradingDB
from trading_monitor.demo.driver import DaemonDriver, new_york
from trading_monitor.domain.lifecycle import FINAL_ORDER_STATUSES
from trading_monitor.embedded_pg import EmbeddedPostgres
from trading_monitor.order_executor.service import execute_once
from trading_monitor.order_monitor.listener import OrderStreamListener
from trading_monitor.order_monitor.service import monitor_once
from trading_monitor.paper_exchange import ExchangeControl
from trading_monitor.position_monitor.service import position_monitor_once

ROOT = Path(__file__).resolve().parent.parent
SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "SPY", "QQQ", "IWM",
           "JPM", "AMD"]
START = datetime(2026, 11, 20, 14, 45, tzinfo=timezone.utc)  # Friday 09:45 New York
KEYS = {"ALPACA_API_KEY": "PKBENCH0000000001", "ALPACA_SECRET_KEY": "bench-secret-0001"}
PRICE = Decimal("50.00")  # every symbol, so 1,000 entries of one share fit the paper account
ALPACA_PER_MIN = 200  # Alpaca's limit per account
OUR_PER_MIN = 190  # BROKER_REQUESTS_PER_MINUTE's default: 95% of it
BATCH = 100  # decisions per executor cycle while building a book (see build_book)
POLL_SECONDS = 300  # ORDER_MONITOR_INTERVAL_MINUTES (5), the seed's polling interval too


# -- infrastructure: PostgreSQL, the exchange process, settings, brokers ----------------------

class Databases:
    """One PostgreSQL server; a fresh migrated database (cloned from a template) per scenario."""

    def __init__(self, stack: ExitStack):
        url = os.environ.get("TEST_DATABASE_URL")
        if url:
            self.server = dict(parse_dsn(url))
        else:
            self.server = stack.enter_context(EmbeddedPostgres()).params
        self._count = 0
        self.template = f"bench_template_{os.getpid()}"
        self._admin(f"DROP DATABASE IF EXISTS {self.template}",
                    f"CREATE DATABASE {self.template}")
        with TradingDB(config={**self.server, "dbname": self.template}) as db:
            db.create_schema()
        stack.callback(self._drop_all)
        self.made: list[str] = []

    def _admin(self, *statements: str) -> list[Any]:
        conn = psycopg2.connect(**{k: v for k, v in self.server.items() if v not in (None, "")})
        conn.autocommit = True
        out = []
        try:
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(sql.SQL(statement))  # our own names only
                    out.append(cur.fetchall() if cur.description else None)
        finally:
            conn.close()
        return out

    def fresh(self) -> dict[str, Any]:
        self._count += 1
        name = f"bench_{os.getpid()}_{self._count}"
        self._admin(f"CREATE DATABASE {name} TEMPLATE {self.template}")
        self.made.append(name)
        return {**self.server, "dbname": name}

    def drop(self, params: dict[str, Any]) -> None:
        self._admin(f"DROP DATABASE IF EXISTS {params['dbname']} WITH (FORCE)")
        self.made.remove(params["dbname"])

    def version(self) -> str:
        [[row]] = self._admin("SHOW server_version")
        return str(row[0]).split()[0]

    def _drop_all(self) -> None:
        for name in [*self.made, self.template]:
            self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Exchange:
    """The paper exchange in its own process (Alpaca is another machine), stepped clock.

    The clock moves only when we move it, so `now` mirrors it from the answers."""

    def __init__(self, *, start: datetime = START, seed: int = 7):
        self._log = tempfile.NamedTemporaryFile("w+", prefix="bench-exchange-", suffix=".log")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "trading_monitor.paper_exchange", "--clock", "stepped",
             "--port", "0", "--seed", str(seed), "--start", start.isoformat(),
             "--rate-limit", "0", "--api-key", KEYS["ALPACA_API_KEY"],
             "--secret-key", KEYS["ALPACA_SECRET_KEY"]],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + 30
        lines: list[str] = []
        while len(lines) < 2:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("the paper exchange did not start")
            time.sleep(0.05)
            self._log.seek(0)
            lines = [ln for ln in self._log.read().splitlines()
                     if ln.startswith(("paper exchange serving", "trade_updates stream at"))]
        self.url = lines[0].split()[-1]
        self.stream_url = lines[1].split()[-1]
        self.control = ExchangeControl(self.url, KEYS["ALPACA_API_KEY"],
                                       KEYS["ALPACA_SECRET_KEY"], timeout=120)
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now = _ts(self.control.advance(seconds)["timestamp"])

    def set_clock(self, at: datetime) -> None:
        self._now = _ts(self.control.set_clock(at)["timestamp"])

    def latency(self, ms: float) -> None:
        self.control.clear_faults()
        if ms:
            self.control.set_fault("*", "latency", ms=ms, probability=1.0)

    def requests(self) -> dict[str, int]:
        """Trading and data requests received since the last reset (not the stream)."""
        return {k: v for k, v in self.control.counters().items() if " /v2/" in k and v}

    def rss_kib(self) -> int:
        return _rss_kib(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def __enter__(self) -> Exchange:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# The executor's default price and money checks, where the executor itself is measured (they
# read one market snapshot per cycle). Building a book, they are off like the risk caps.
PRICE_CHECKS = {"MAX_PRICE_DEVIATION_PCT": "10", "CHECK_BUYING_POWER": "true"}


def settings_for(ex: Exchange, **env: str) -> Settings:
    base = {**KEYS, "ALPACA_BASE_URL": ex.url, "ALPACA_DATA_URL": ex.url,
            "ALPACA_STREAM_URL": ex.stream_url, "BROKER_TIMEOUT_SECONDS": "30",
            "CLOCK_SOURCE": "broker", "CANCEL_SETTLE_SECONDS": "3",
            # a book of 1,000 one-share entries on a dozen symbols: the risk caps are off
            "MAX_NOTIONAL_PER_ORDER": "off", "MAX_OPEN_POSITIONS": "off",
            "MAX_TOTAL_EXPOSURE": "off", "BLOCK_DUPLICATE_ENTRY": "false",
            "BLOCK_SAME_DAY_REENTRY": "false", "CHECK_BUYING_POWER": "false",
            "MAX_PRICE_DEVIATION_PCT": "off", "MAX_DAILY_LOSS": "off",
            # the daemon run's daily_report job writes here, not into the home directory
            "REPORT_DIR": str(Path(tempfile.gettempdir()) / "tm-benchmark-reports")}
    return load_settings({**base, **env}, need_broker=True)


class CountingBroker(AlpacaBroker):
    """AlpacaBroker that also counts the 429s it was answered (wraps its own session)."""

    def __init__(self, settings: Settings, budget: RequestBudget):
        super().__init__(settings, budget=budget)
        self.too_many = 0
        session = self._session
        send = session.request

        def request(method: Any, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
            response = send(method, url, *args, **kwargs)
            if response.status_code == 429:
                self.too_many += 1
            return response

        session.request = request  # type: ignore[method-assign]


def unlimited_broker(settings: Settings) -> CountingBroker:
    return CountingBroker(settings, RequestBudget(10_000_000))


@dataclass
class Lab:
    dbs: Databases
    latency_ms: float = 50.0
    repeats: int = 3
    time_scale: float = 3.0
    window_samples: int = 100
    poll_samples: int = 20
    bracket_samples: int = 20
    days: int = 5
    decisions_per_day: int = 20
    daemon_latency_ms: float | None = None  # None: latency_ms
    seed_executor_up_to: int | None = None  # None: at every N


# -- measuring --------------------------------------------------------------------------------

@dataclass
class Cost:
    requests: int
    round_trips: int
    seconds: float
    detail: dict[str, int] = field(default_factory=dict)


@contextmanager
def costed(ex: Exchange, out: list[Cost]) -> Iterator[None]:
    """Broker requests (counted at the exchange), database statements and wall time."""
    ex.control.reset_counters()
    trips = TradingDB.round_trips
    started = time.perf_counter()
    yield
    seconds = time.perf_counter() - started
    detail = ex.requests()
    out.append(Cost(sum(detail.values()), TradingDB.round_trips - trips, seconds, detail))


def median_cost(costs: list[Cost]) -> Cost:
    """Requests and round trips of the first run (they repeat), the median wall time."""
    return Cost(costs[0].requests, costs[0].round_trips,
                statistics.median(c.seconds for c in costs), costs[0].detail)


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def _rss_kib(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


# -- building a book --------------------------------------------------------------------------

def add_decision(db: TradingDB, symbol: str, *, limit: Decimal, stop: Decimal,
                 target: Decimal | None, style: str = "SWING", qty: int = 1,
                 created_at: datetime | None = None) -> int:
    body: dict[str, Any] = {
        "ticker": symbol, "primary_action": "NEW_TRADE", "side": "BUY", "trade_style": style,
        "entry_price": str(limit), "stop_loss": str(stop), "quantity": qty}
    if target is not None:
        body["take_profit"] = str(target)
    decision_id = db.insert("analysis_decision", {"ticker": symbol, "primary_action": "NEW_TRADE",
                                                  "decision": body})
    if created_at is not None:  # written as n8n would at that (simulated) moment
        db.execute_update("UPDATE analysis_decision SET created_at = %s WHERE id = %s",
                          [created_at, decision_id])
    return decision_id


def build_book(params: dict[str, Any], ex: Exchange, settings: Settings, broker: AlpacaBroker,
               limits: list[Decimal], *, protect: bool = False, qty: int = 1) -> list[int]:
    """One buy per limit price (stop 3 below it, target 10 above the market), on the symbols
    in turn, `BATCH` per executor cycle with a second of exchange time between cycles: on a
    stepped clock every order of a cycle has one submission time, and more than 500 open
    orders sharing one cannot be paged. `protect` runs the order monitor after each batch
    (filled staged entries get their stops in batches too). Returns the decision ids."""
    ids: list[int] = []
    with TradingDB(config=params) as db:
        for start in range(0, len(limits), BATCH):
            for i in range(start, min(len(limits), start + BATCH)):
                ids.append(add_decision(db, SYMBOLS[i % len(SYMBOLS)], limit=limits[i],
                                        stop=limits[i] - 3, target=PRICE + 10, qty=qty))
            report = execute_once(params, broker, settings, now=ex.now)
            assert report.count("EXECUTED") == min(BATCH, len(limits) - start), report.outcomes
            if protect:
                monitor_once(params, broker, settings, now=ex.now)
            ex.advance(1)
    return ids


# -- the seed's plan (seed 002, TASK-011 and TASK-014), for comparison only --------------------

BASELINE_TABLES = """
CREATE TABLE IF NOT EXISTS bench_seed_order (alpaca_order_id text PRIMARY KEY, status text);
CREATE TABLE IF NOT EXISTS bench_seed_position (id integer PRIMARY KEY, symbol text,
                                                current_price numeric);
"""


def baseline_snapshot(params: dict[str, Any]) -> None:
    """The seed's own tracking rows, copied from ours as the book stands (the seed keeps one
    status per order and one price per position; it writes them here, never in our rows)."""
    with TradingDB(config=params) as db:
        db.execute_update(BASELINE_TABLES)
        db.execute_update("TRUNCATE bench_seed_order, bench_seed_position")
        db.execute_update(
            "INSERT INTO bench_seed_order SELECT alpaca_order_id, order_status "
            "FROM order_execution WHERE alpaca_order_id IS NOT NULL "
            "AND parent_order_execution_id IS NULL AND NOT (order_status = ANY(%s))",
            [sorted(FINAL_ORDER_STATUSES)])
        db.execute_update("INSERT INTO bench_seed_position SELECT id, symbol, current_price "
                          "FROM position_tracking")


def baseline_order_poll(params: dict[str, Any], broker: AlpacaBroker) -> int:
    """TASK-011 as planned: every pending order read by id (with its legs), each change
    written. Returns the orders that changed."""
    changed = 0
    with TradingDB(config=params) as db:
        pending = db.execute_query(
            "SELECT alpaca_order_id, status FROM bench_seed_order "
            "WHERE NOT (status = ANY(%s)) ORDER BY alpaca_order_id",
            [sorted(FINAL_ORDER_STATUSES)])
        for row in pending:
            order = broker.get_order(row["alpaca_order_id"])
            if order is not None and order.status != row["status"]:
                db.execute_update("UPDATE bench_seed_order SET status = %s "
                                  "WHERE alpaca_order_id = %s", [order.status, order.id])
                changed += 1
    return changed


def baseline_position_poll(params: dict[str, Any], broker: AlpacaBroker) -> int:
    """TASK-014 as planned: every open position's symbol priced by its own request, each
    price written. Returns the positions priced."""
    with TradingDB(config=params) as db:
        rows = db.execute_query("SELECT id, symbol FROM bench_seed_position ORDER BY id")
        for row in rows:
            price = broker.latest_prices([row["symbol"]]).get(row["symbol"])
            db.execute_update("UPDATE bench_seed_position SET current_price = %s WHERE id = %s",
                              [price, row["id"]])
    return len(rows)


# -- 1. the order monitor: N open orders, nothing changed, then 1% filled ---------------------

@dataclass
class Compared:
    n: int
    case: str
    ours: Cost
    seed: Cost
    note: str = ""


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



# -- 3. the executor under Alpaca's 200/min ---------------------------------------------------

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



# -- 4. the unprotected window: fill to a stop accepted at the broker --------------------------

@dataclass
class Window:
    n: int
    mode: str
    samples: list[float]  # seconds
    unit: str = "s wall"
    note: str = ""
    polled: bool = False  # the wait for the next 5-minute cycle comes on top of each sample

    def distribution(self) -> list[float]:
        """The samples; polled, each one after every wait the schedule can impose: a fill
        lands uniformly in the interval, so the wait for the next cycle is uniform on
        [0, 300 s), taken on an even grid."""
        if not self.polled:
            return self.samples
        return [wait + x for wait in WAIT_GRID for x in self.samples]

    def figures(self) -> tuple[float, float, float]:
        spread = self.distribution()
        top = max(self.samples) + (POLL_SECONDS if self.polled else 0)
        return pct(spread, 50), pct(spread, 99), top


WAIT_GRID = [(k + 0.5) * POLL_SECONDS / 600 for k in range(600)]


def _journal_of(db: TradingDB, decision_id: int) -> int:
    [row] = db.execute_query("SELECT existing_trade_journal_id AS j FROM analysis_decision "
                             "WHERE id = %s", [decision_id])
    return int(row["j"])


def _protected(db: TradingDB, journal_id: int) -> bool:
    [row] = db.execute_query("SELECT protected_at FROM trade_journal WHERE id = %s",
                             [journal_id])
    return row["protected_at"] is not None


def _finished_syncs(db: TradingDB) -> int:
    [row] = db.execute_query("SELECT count(*) AS n FROM job_run WHERE job_name = "
                             "'order_monitor' AND finished_at IS NOT NULL")
    return int(row["n"])


def _wait_for_sync_after_connect(db: TradingDB, listener: OrderStreamListener,
                                 before: int) -> None:
    """Connected, and the full sync that follows every connect is done."""
    deadline = time.monotonic() + 60
    while not listener.connected or _finished_syncs(db) <= before:
        if time.monotonic() > deadline:
            raise RuntimeError("the stream did not connect and sync")
        time.sleep(0.02)


def measure_staged_window(lab: Lab, n: int, seed_cycle: float | None) -> list[Window]:
    """A book of N resting staged entries. The first `stream` of them are filled one at a
    time with the stream listener running: wall time from the price move that fills the
    entry (sent to the exchange) until our journal says a stop is accepted at the broker.
    Then the listener stops and the next `poll` are filled one at a time, each followed by one
    order-monitor cycle: the processing part of a polled window (the wait for the cycle is
    the schedule's). The rest of the book rests far below the market."""
    stream_n = min(lab.window_samples, n // 2)
    poll_n = min(lab.poll_samples, n - stream_n)
    sampled = stream_n + poll_n
    # samples 46.00, 45.99, ...: each price move fills exactly one new entry
    limits = [PRICE - 4 - Decimal("0.01") * i if i < sampled else PRICE - 10 for i in range(n)]
    params = lab.dbs.fresh()
    stream_s: list[float] = []
    poll_s: list[float] = []
    with Exchange() as ex, TradingDB(config=params) as db:
        ex.control.set_prices({s: str(PRICE) for s in SYMBOLS})
        settings = settings_for(ex, PROTECTION_MODE="staged")
        broker = unlimited_broker(settings)
        ids = build_book(params, ex, settings, broker, limits)
        monitor_once(params, broker, settings, now=ex.now)
        ex.latency(lab.latency_ms)
        syncs = _finished_syncs(db)
        listener = OrderStreamListener(params, unlimited_broker(settings), settings,
                                       now=ex.now).start()
        try:
            _wait_for_sync_after_connect(db, listener, syncs)
            ex.control.reset_counters()
            for i in range(stream_n):
                journal = _journal_of(db, ids[i])
                started = time.perf_counter()
                ex.control.set_price(SYMBOLS[i % len(SYMBOLS)], limits[i])
                while not _protected(db, journal):
                    if time.perf_counter() - started > 30:
                        raise RuntimeError(f"decision {ids[i]} not protected by the stream")
                    time.sleep(0.002)
                stream_s.append(time.perf_counter() - started)
            per_fill = {k: v / stream_n for k, v in ex.requests().items()}
        finally:
            listener.stop()
        for i in range(stream_n, sampled):
            journal = _journal_of(db, ids[i])
            started = time.perf_counter()
            ex.control.set_price(SYMBOLS[i % len(SYMBOLS)], limits[i])
            monitor_once(params, broker, settings, now=ex.now)
            poll_s.append(time.perf_counter() - started)
            assert _protected(db, journal), f"decision {ids[i]} not protected by the cycle"
        ex.latency(0)
    lab.dbs.drop(params)
    out = [Window(n, "staged, stream", stream_s,
                  note=f"{stream_n} fills, one at a time, book of {n:,}; broker requests "
                       f"per fill: " + ", ".join(f"`{k}` {v:g}" for k, v in
                                                 sorted(per_fill.items()))),
           Window(n, "staged, polling only", poll_s, polled=True,
                  note=f"{poll_n} fills; the cycle that protects measured (p50 "
                       f"{pct(poll_s, 50):.3f} s, p99 {pct(poll_s, 99):.3f} s, max "
                       f"{max(poll_s):.3f} s), the wait for it added")]
    if seed_cycle is not None:
        # The seed polls every 5 minutes too, and reaches a fill during its pass over every
        # pending order: up to one whole pass late.
        # The seed polls every 5 minutes too and reaches a fill during its pass over every
        # pending order: anywhere from the start of the pass to its end.
        out.append(Window(n, "seed: polling, one GET per order",
                          [(k + 0.5) * seed_cycle / 100 for k in range(100)], polled=True,
                          note=f"its pass over {n:,} orders takes {seed_cycle:.1f} s; a fill is "
                               f"found anywhere in it"))
    return out


def measure_bracket_window(lab: Lab, *, stream: bool) -> Window:
    """Bracket entries of 10 shares filled 5 at first: Alpaca holds both legs until the
    entry is complete, so those five shares have no live stop. The order monitor runs every
    5 minutes on the exchange's stepped clock; each fill lands at its own offset into an
    interval (spread evenly over it); once PARTIAL_ENTRY_TIMEOUT_SECONDS (120) have passed
    since the first fill, a cycle cancels the rest and protects the five shares. The window
    is the journal's unprotected_seconds (exchange time). With `stream` the listener books
    the partial fill when it happens; without it the first cycle after the fill books it."""
    count = lab.bracket_samples
    limits = [PRICE - 4 - Decimal("0.01") * i for i in range(count)]
    params = lab.dbs.fresh()
    windows: list[float] = []
    with Exchange() as ex, TradingDB(config=params) as db, ExitStack() as stack:
        ex.control.set_prices({s: str(PRICE) for s in SYMBOLS})
        settings = settings_for(ex, ORDER_POLLING="true")
        broker = unlimited_broker(settings)
        ids = build_book(params, ex, settings, broker, limits, qty=10)
        ex.set_clock(datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc))  # 10:00, a poll
        monitor_once(params, broker, settings, now=ex.now)
        ex.latency(lab.latency_ms)
        if stream:
            syncs = _finished_syncs(db)
            listener = OrderStreamListener(params, unlimited_broker(settings), settings,
                                           now=ex.now).start()
            stack.callback(listener.stop)
            _wait_for_sync_after_connect(db, listener, syncs)
        for i in range(count):
            symbol = SYMBOLS[i % len(SYMBOLS)]
            journal = _journal_of(db, ids[i])
            [entry] = db.execute_query(
                "SELECT client_order_id FROM order_execution WHERE analysis_decision_id = %s "
                "AND order_role = 'ENTRY'", [ids[i]])
            offset = round((i + 0.5) * POLL_SECONDS / count)
            ex.advance(offset)
            ex.control.set_partial_fill(client_order_id=entry["client_order_id"], ratio="0.5")
            ex.control.set_price(symbol, limits[i])  # 5 of 10 fill
            ex.control.set_price(symbol, PRICE)  # and the rest waits
            if stream:
                _wait_until(partial(_booked, db, journal), f"decision {ids[i]} booked")
            ex.advance(POLL_SECONDS - offset)
            for _ in range(4):
                monitor_once(params, broker, settings, now=ex.now)
                if _protected(db, journal):
                    break
                ex.advance(POLL_SECONDS)
            [row] = db.execute_query("SELECT unprotected_seconds, actual_qty FROM trade_journal "
                                     "WHERE id = %s", [journal])
            assert row["unprotected_seconds"] is not None and row["actual_qty"] == 5, row
            windows.append(float(row["unprotected_seconds"]))
        ex.latency(0)
    lab.dbs.drop(params)
    timeout = settings.partial_entry_timeout_seconds
    if stream:
        mode = "bracket, partial fill, stream"
        bound = (f"at most {timeout:g} s + one interval = {timeout + POLL_SECONDS:g} s: the "
                 f"listener books the fill when it happens, and the first cycle "
                 f"{timeout:g} s after it withdraws the rest and protects")
    else:
        mode = "bracket, partial fill, polling only"
        bound = (f"at most two intervals = {2 * POLL_SECONDS} s, not {timeout:g} s + one: the "
                 f"cycle that books the partial fill decides on the trade as it loaded it, "
                 f"with no first fill yet, so it counts the {timeout:g} s from its own time "
                 f"and the rest is withdrawn one cycle later")
    return Window(0, mode, windows, unit="s exchange time",
                  note=f"{count} partial fills at offsets spread evenly over the 5-minute "
                       f"interval; {bound}")


def _booked(db: TradingDB, journal_id: int) -> bool:
    [row] = db.execute_query("SELECT first_fill_at FROM trade_journal WHERE id = %s",
                             [journal_id])
    return row["first_fill_at"] is not None


def _wait_until(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"not within {seconds} s: {what}")
        time.sleep(0.005)



# -- 5. the daemon over five simulated trading days -------------------------------------------

WEEK = date(2026, 11, 16)  # Monday; no holiday that week


def _todays_decisions(db: TradingDB, ex: Exchange, per_day: int) -> None:
    """What n8n might write before the open: entries around the current price (half resting
    a little below, half marketable), SWING and DAYTRADE, on the symbols in turn."""
    prices = {s: Decimal(str(p)) for s, p in ex.control.state()["prices"].items()}
    for k in range(per_day):
        symbol = SYMBOLS[k % len(SYMBOLS)]
        price = prices[symbol]
        limit = (price * (Decimal("0.997") if k % 2 else Decimal("1.002"))).quantize(
            Decimal("0.01"))
        add_decision(db, symbol, limit=limit, qty=2,
                     stop=(limit * Decimal("0.98")).quantize(Decimal("0.01")),
                     target=(limit * Decimal("1.03")).quantize(Decimal("0.01")),
                     style="DAYTRADE" if k % 3 == 0 else "SWING", created_at=ex.now())


def daemon_child(params: dict[str, Any], days: int, latency_ms: float, per_day: int
                 ) -> dict[str, Any]:
    """The real Daemon (leader election, the guard and trading calendar, heartbeat, the
    stream listener) in this process; instead of its BlockingScheduler's wall clock, every
    job's fire times over `days` trading days, in order, with the exchange's clock set to
    each before the job runs. RSS and open descriptors after each day's last job."""
    from trading_monitor.daemon.app import Daemon

    start = new_york(WEEK, 8, 0)
    with Exchange(start=start, seed=11) as ex:  # prices random-walk as the clock moves
        settings = settings_for(ex, **PRICE_CHECKS)
        broker = unlimited_broker(settings)
        stream_broker = unlimited_broker(settings)
        ex.latency(latency_ms)
        daemon = Daemon(settings, params, broker, now=ex.now, listener_factory=lambda:
                        OrderStreamListener(params, stream_broker, settings, now=ex.now))
        spec_ids = {spec.job_id: spec for spec in daemon.specs}
        driver = DaemonDriver(daemon, ex.set_clock)  # the demo's driver (trading_monitor/demo)
        end = start + timedelta(days=days + (days // 5) * 2)
        fires = driver.fires(start, end)
        samples: list[dict[str, Any]] = []
        seed_requests = 0
        ran: dict[str, int] = {}
        with TradingDB(config=params) as db:
            driver.start()  # the leader: start-up reconciliation, then the stream
            for day in sorted({f.at.date() for f in fires})[:days]:
                ex.set_clock(new_york(day, 9, 25))
                _todays_decisions(db, ex, per_day)
                for fire in (f for f in fires if f.at.date() == day):
                    if not driver.run(fire):
                        continue
                    job_id = fire.job_id
                    ran[job_id] = ran.get(job_id, 0) + 1
                    # what the seed's plan would have sent at this fire, on this book
                    if spec_ids[job_id].runs == "order_monitor":
                        [row] = db.execute_query(
                            "SELECT count(*) AS n FROM order_execution WHERE alpaca_order_id "
                            "IS NOT NULL AND parent_order_execution_id IS NULL "
                            "AND NOT (order_status = ANY(%s))", [sorted(FINAL_ORDER_STATUSES)])
                        seed_requests += int(row["n"])
                    elif spec_ids[job_id].runs == "position_monitor":
                        [row] = db.execute_query("SELECT count(*) AS n FROM position_tracking")
                        seed_requests += int(row["n"])
                time.sleep(0.5)  # let the stream finish what the last job set off
                gc.collect()
                [trades] = db.execute_query("SELECT count(*) AS n FROM trade_journal")
                samples.append({"day": str(day), "rss_kib": _rss_kib(), "fds": _fds(),
                                "cycles": sum(ran.values()), "trades": int(trades["n"]),
                                "requests": broker.requests_sent + stream_broker.requests_sent,
                                "seed_requests": seed_requests})
            [closed] = db.execute_query(
                "SELECT count(*) FILTER (WHERE status = 'CLOSED') AS closed, "
                "count(*) FILTER (WHERE status = 'POSITION') AS open FROM trade_journal")
        daemon.close()
    return {"samples": samples, "ran": ran, "fires": len(fires), "closed": int(closed["closed"]),
            "open": int(closed["open"]), "latency_ms": latency_ms}


def measure_daemon(lab: Lab) -> dict[str, Any]:
    params = lab.dbs.fresh()
    child = subprocess.run(
        [sys.executable, __file__, "--daemon-child", json.dumps({
            "params": params, "days": lab.days,
            "latency_ms": lab.latency_ms if lab.daemon_latency_ms is None
            else lab.daemon_latency_ms,
            "per_day": lab.decisions_per_day})],
        capture_output=True, text=True, cwd=ROOT, check=False)
    lab.dbs.drop(params)
    if child.returncode != 0:
        raise RuntimeError(f"the daemon run failed:\n{child.stderr[-3000:]}")
    return dict(json.loads(child.stdout.strip().splitlines()[-1]))



# -- the executor without a rate limit (what scripts/benchmark_executor.py measured) -----------

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


# -- the report -------------------------------------------------------------------------------

@dataclass
class Results:
    sizes: list[int]
    monitor: list[Compared] = field(default_factory=list)
    positions: list[Compared] = field(default_factory=list)
    executor: list[tuple[RateRun, RateRun | None]] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)
    daemon: dict[str, Any] | None = None
    capacity: dict[str, Any] | None = None
    seconds: float = 0.0


def _ratio(ours: float, seed: float, digits: int = 3) -> str:
    if seed == 0:
        return "—" if ours == 0 else "∞"
    return f"{ours / seed:.{digits}g}"


def _s(seconds: float) -> str:
    return f"{seconds:.3f}" if seconds < 10 else f"{seconds:.1f}"


def machine(dbs: Databases) -> list[tuple[str, str]]:
    from importlib.metadata import version

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return [("CPU", cpu), ("cores", str(os.cpu_count())),
            ("Python", platform.python_version()), ("PostgreSQL", dbs.version()),
            ("alpaca-py", version("alpaca-py")), ("OS", platform.platform())]


def _cost_row(c: Compared, label: str) -> str:
    o, s = c.ours, c.seed
    return (f"| {c.n:,} | {label} | {o.requests} | {s.requests:,} | "
            f"{_ratio(o.requests, s.requests)} | {o.round_trips:,} | {s.round_trips:,} | "
            f"{_ratio(o.round_trips, s.round_trips)} | {_s(o.seconds)} | {_s(s.seconds)} | "
            f"{_ratio(o.seconds, s.seconds)} |")


COST_HEAD = ("| N | case | broker requests | seed | ratio | DB round trips | seed | ratio | "
             "wall s | seed | ratio |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")


def targets(r: Results, lab: Lab) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    top = max(r.sizes) if r.sizes else 0
    at = f"N = {top:,}" if top == 1000 else f"N = {top:,} (the largest N of this run)"
    idle = [c for c in r.monitor if c.case == "nothing changed"]
    if idle:
        big = max(idle, key=lambda c: c.n)
        grows = " → ".join(str(c.ours.requests) for c in sorted(idle, key=lambda c: c.n))
        ok = big.ours.requests <= 3 and len({c.ours.requests for c in idle}) <= 2
        out.append((f"broker requests per order-monitor cycle, nothing changed, ≤ 3 at {at} "
                    f"and not growing with N",
                    f"{grows} at N = {', '.join(f'{c.n:,}' for c in idle)} (seed: "
                    f"{big.seed.requests:,} at N = {big.n:,})", "met" if ok else "missed"))
    if r.monitor:
        for case in ("nothing changed", "1% filled"):
            cs = [c for c in r.monitor if c.case == case]
            big = max(cs, key=lambda c: c.n)
            out.append((f"order-monitor cycle wall time < 1.5 s at {at}, {case}",
                        f"{big.ours.seconds:.3f} s (seed: {big.seed.seconds:.1f} s)",
                        "met" if big.ours.seconds < 1.5 else "missed"))
    if r.positions:
        big = max(r.positions, key=lambda c: c.n)
        out.append((f"position-monitor cycle wall time < 1.5 s at {at} (the target names the "
                    f"monitor cycle; held to the position monitor too)",
                    f"{big.ours.seconds:.3f} s (seed: {big.seed.seconds:.1f} s)",
                    "met" if big.ours.seconds < 1.5 else "missed"))
    if r.executor:
        shares = [(ours.n, ours.share(lab.time_scale), ours.too_many) for ours, _ in r.executor]
        ok = all(share >= 0.9 and too == 0 for _, share, too in shares)
        out.append(("executor uses ≥ 90% of the 200/min budget with zero 429s",
                    "; ".join(f"N = {n:,}: {share:.1%}, {too} × 429" for n, share, too in shares),
                    "met" if ok else "missed"))
    streamed = [w for w in r.windows if w.mode == "staged, stream"]
    if streamed:
        worst = max(pct(w.samples, 99) for w in streamed)
        out.append(("unprotected window p99 ≤ 1 s with the stream",
                    "; ".join(f"N = {w.n:,}: p99 {pct(w.samples, 99):.3f} s" for w in streamed)
                    + " (seed's polling: up to 300 s)", "met" if worst <= 1 else "missed"))
    if r.daemon:
        samples = r.daemon["samples"]
        if len(samples) >= 2:
            first = samples[1] if len(samples) > 2 else samples[0]
            last = samples[-1]
            growth = last["rss_kib"] / first["rss_kib"] - 1
            label = f"day {samples.index(first) + 1} to day {len(samples)}"
            out.append((f"daemon RSS grows < 5% from day 2 to day 5 (here {label})",
                        f"{first['rss_kib'] / 1024:.1f} → {last['rss_kib'] / 1024:.1f} MiB "
                        f"({growth:+.1%})", "met" if growth < 0.05 else "missed"))
            fds = [x["fds"] for x in samples]
            out.append(("open file descriptors do not grow",
                        " → ".join(map(str, fds)) + " (after each day)",
                        "met" if max(fds[1:]) <= fds[0] else "missed"))
    return out


def write_report(r: Results, lab: Lab, dbs: Databases, command: str, out: Path,
                 quick: bool) -> str:
    lines: list[str] = []
    add = lines.append
    add("# Performance\n")
    add("Written by `scripts/benchmark.py` (a benchmark, not a test); do not edit by hand. "
        "Reproduce it with:\n")
    add(f"```bash\n{command}\n```\n")
    if quick:
        add("**This is a `--quick` run**: N = 10 and 100, fewer samples, the seed's executor "
            "at N = 10 only, three days of the daemon without the added latency. The committed "
            "figures come from the full run.\n")
    add(f"Run on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {r.seconds / 60:.1f} minutes "
        "in all.\n")
    add("| Machine | |\n|---|---|")
    for key, value in machine(dbs):
        add(f"| {key} | {value} |")
    add("")
    add("## How it is measured\n")
    add(f"- The real jobs (`execute_once`, `monitor_once`, `position_monitor_once`, "
        f"`OrderStreamListener`, the `Daemon`) against the paper exchange, which runs in its own "
        f"process (Alpaca is another machine) on a stepped clock, with **{lab.latency_ms:g} ms "
        f"added to every trading and data request** (the exchange's `latency` fault on `*`). "
        f"Books are built with the latency off; it is on for everything measured.")
    add("- PostgreSQL on the same machine (embedded unless `TEST_DATABASE_URL` is set); "
        "*DB round trips* are `TradingDB.round_trips`, every statement sent. *Broker requests* "
        "are counted by the exchange per endpoint.")
    add(f"- Books are one-share orders spread over the exchange's {len(SYMBOLS)} symbols, "
        f"`{BATCH}` decisions per executor cycle. So N positions are N tracked positions "
        f"(`position_tracking` rows, each with its own OCO stop) held in at most "
        f"{len(SYMBOLS)} broker positions: the market-data request count depends on the "
        f"distinct symbols (one snapshot request per 100), not on N.")
    add("- **The baseline** is seed 002's plan (TASK-011 and TASK-014): poll Alpaca once per "
        "pending order (`GET /v2/orders/{id}`, legs nested) and once per open position (the "
        "latest trade of its symbol, one data request each), writing each change. It is "
        "implemented in the benchmark only (`baseline_order_poll`, `baseline_position_poll` "
        "in `scripts/benchmark.py`), on its own copy of the tracking rows, and run on the same "
        "book against the same exchange right after ours. **Ratio = ours ÷ seed's**: below 1 "
        "is better, except for the executor's share of the budget.")
    add(f"- Wall times of our cycles are the median of {lab.repeats} cycles; the seed's pass, "
        "which costs N × the latency whatever else happens, is run once.\n")

    add("## Targets\n")
    add("| Target | Measured | |\n|---|---|---|")
    for target, measured, verdict in targets(r, lab):
        add(f"| {target} | {measured} | **{verdict}** |")
    add("")

    if r.monitor:
        add("## 1. Order-monitor cycle with N open orders\n")
        add("N resting bracket entries (limits below the market). *Nothing changed*: a cycle "
            "after the book is settled. *1% filled*: one price move fills max(1, N/100) "
            "entries (1 at N = 10 and 100), then one cycle; the seed's pass sees the same "
            "orders change.\n")
        add(COST_HEAD)
        for c in r.monitor:
            add(_cost_row(c, c.case))
        add("")
        for c in r.monitor:
            if c.note:
                add(f"- N = {c.n:,}, {c.case}: {c.note}; our requests: "
                    + ", ".join(f"`{k}` {v}" for k, v in sorted(c.ours.detail.items())))
        add("")
    if r.positions:
        add("## 2. Position-monitor cycle with N positions\n")
        add("N one-share staged positions, each with its OCO stop and target; a cycle with "
            "nothing to do (reconciliation passes, marks written, no trailing step reached). "
            "Ours includes the order monitor's sync (fill feed and open orders) that every "
            "position-monitor cycle starts with; the seed's is its price poll alone.\n")
        add(COST_HEAD)
        for c in r.positions:
            add(_cost_row(c, "positions"))
        add("")
        for c in r.positions:
            add(f"- N = {c.n:,}: " + ", ".join(f"`{k}` {v}" for k, v in
                                              sorted(c.ours.detail.items())))
        if len(r.positions) > 1:
            lo, hi = r.positions[0], r.positions[-1]
            slope = (hi.ours.round_trips - lo.ours.round_trips) / (hi.n - lo.n)
            add(f"- Our database round trips grow with N: about {slope:.1f} statements per "
                f"position per cycle (each position's marks are written by itself); the broker "
                f"requests do not.")
        add("")
    if r.executor:
        scale = lab.time_scale
        add("## 3. The executor under Alpaca's 200/min\n")
        add(f"N NEW_TRADE decisions (resting bracket entries) in one executor cycle. Time is "
            f"scaled by {scale:g} so the run stays short: the exchange's limiter is set to "
            f"{ALPACA_PER_MIN * scale:g}/min (200/min × {scale:g}) and ours "
            f"(`BROKER_REQUESTS_PER_MINUTE`, default 190) to {OUR_PER_MIN * scale:g}/min; the "
            f"50 ms latency is not scaled (it allows ~17 requests/s, above the scaled "
            f"{ALPACA_PER_MIN * scale / 60:g}/s, so the limit, not the latency, is what binds). "
            f"Both buckets are emptied first (through our own limiter, so both by the same "
            f"requests): the figure is the sustained rate of a busy session, not the first "
            f"minute's burst. *Share* = requests per minute over the whole cycle ÷ the limit; "
            f"our limiter allows at most 95% of it. The seed's plan is about the monitors' "
            f"polling; for the executor the comparison is the same job with **our limiter "
            f"switched off**, the exchange's 429s and rate-limit headers its only brake.\n")
        add("| N | requests | wall s | share of 200/min | seed | ratio | 429s | seed | "
            "executed | seed |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for ours, seed in r.executor:
            if seed is None:
                add(f"| {ours.n:,} | {ours.requests:,} | {_s(ours.seconds)} | "
                    f"{ours.share(scale):.1%} | not run | | {ours.too_many} | | "
                    f"{ours.executed:,} | |")
                continue
            add(f"| {ours.n:,} | {ours.requests:,} | {_s(ours.seconds)} | "
                f"{ours.share(scale):.1%} | {seed.share(scale):.1%} | "
                f"{_ratio(ours.share(scale), seed.share(scale))} | {ours.too_many} | "
                f"{seed.too_many} | {ours.executed:,} | {seed.executed:,} "
                f"({seed.deferred:,} deferred) |")
        add("")
        add("Without our limiter a 429 (or an answer saying the bucket is empty) pauses every "
            "request until the exchange's `X-Ratelimit-Reset`, the time to refill the whole "
            "bucket; the decisions that meet the pause are deferred to the next cycle.\n")
    if r.capacity:
        cap = r.capacity
        add("### The executor without any rate limit\n")
        add(f"{cap['decisions']} NEW_TRADE decisions over {cap['symbols']} symbols, "
            f"{cap['latency_ms']:g} ms per request, no limiter anywhere (what "
            f"`scripts/benchmark_executor.py` used to measure):\n")
        add("| Figure | Value |\n|---|---|")
        add(f"| wall time | {cap['seconds']} s ({cap['decisions_per_second']} decisions/s) |")
        add(f"| broker requests | {cap['broker_requests']}: {cap['order_posts']} order POSTs, "
            f"{cap['fixed_reads_per_cycle']} reads per cycle, "
            f"{cap['asset_lookups (one per distinct symbol)']} asset look-ups |")
        add(f"| requests per NEW_TRADE decision | {cap['requests_per_new_trade']} |")
        add(f"| requests in a cycle with nothing to do | "
            f"{cap['requests_in_a_cycle_with_nothing_to_do']} |")
        add("")
    if r.windows:
        add("## 4. The unprotected window: entry fill to a stop accepted at the broker\n")
        add("- *staged, stream*: the `OrderStreamListener` running; wall time from the price "
            "move that fills one resting entry (sent to the exchange) until our journal's "
            "`protected_at` is set, which happens once the exchange has accepted the OCO stop. "
            "Fills one at a time.")
        add("- *staged, polling only*: the wait for the next order-monitor cycle (every 5 "
            "minutes; a fill lands uniformly in the interval: p50 150 s, p99 297 s, max "
            "300 s) plus the cycle that protects it, measured (fill, then one cycle, wall "
            "time).")
        add("- *seed*: it polls every 5 minutes too and finds a fill during its pass over "
            "every pending order, so its window is the same wait plus up to one whole pass "
            "(measured in section 1; its POST of the stop is not counted, in its favour).")
        add("- *bracket, partial fill*: 10-share entries filled 5 at first; Alpaca holds a "
            "bracket's legs until the entry is complete, so after "
            "`PARTIAL_ENTRY_TIMEOUT_SECONDS` (120) a cycle cancels the rest and protects the "
            "filled shares. Run on the exchange's stepped clock with the order monitor every "
            "5 minutes, the fills at offsets spread evenly over the interval; the figure is "
            "`trade_journal.unprotected_seconds` in exchange time. The book size does not "
            "enter into it. A bracket entry that fills completely is protected from its "
            "first share (its stop leg is live at once): 0 s.\n")
        add("The ratio is our p99 over the seed's p99 at the same N (the bracket rows: at the "
            "largest N). Figures in exchange time are schedule-bound, so the latency hardly "
            "enters into them.\n")
        add("| N | mode | samples | p50 | p99 | max | unit | p99 ÷ seed's p99 |\n"
            "|---:|---|---:|---:|---:|---:|---|---:|")
        seeds = {w.n: w.figures()[1] for w in r.windows if w.mode.startswith("seed")}
        big_seed = seeds[max(seeds)] if seeds else None
        for w in r.windows:
            p50, p99, top = w.figures()
            ref = seeds.get(w.n, big_seed)
            ratio = "1" if w.mode.startswith("seed") else (
                _ratio(p99, ref) if ref else "—")
            count = "model" if w.mode.startswith("seed") else str(len(w.samples))
            add(f"| {w.n:,} | {w.mode} | {count} | {_s(p50)} | {_s(p99)} | {_s(top)} | "
                f"{w.unit} | {ratio} |" if w.n else
                f"| — | {w.mode} | {count} | {_s(p50)} | {_s(p99)} | {_s(top)} | {w.unit} | "
                f"{ratio} |")
        add("")
        for w in r.windows:
            if w.note:
                add(f"- {w.mode}{f' (N = {w.n:,})' if w.n else ''}: {w.note}.")
        add("")
    if r.daemon:
        d = r.daemon
        samples = d["samples"]
        cycles = samples[-1]["cycles"]
        add(f"## 5. The daemon over {len(samples)} simulated trading days\n")
        add(f"The real `Daemon` (election, the trading-day guard on the broker's calendar, "
            f"heartbeat, the stream listener on the leader) in a process of its own, at the "
            f"default schedule: every job's fire times from its triggers, in order, the "
            f"exchange's clock set to each before the job runs (prices random-walk as the "
            f"clock moves), {d['latency_ms']:g} ms per request. **{cycles:,} job cycles ran** "
            f"({d['fires']:,} fire times; the guard skips those outside the session): "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(d["ran"].items()))
            + f". {lab.decisions_per_day} entries written before each open (SWING and "
            f"DAYTRADE, resting and marketable); {d['closed']} trades closed, {d['open']} "
            f"open at the end. RSS (`VmRSS`) and open descriptors (`/proc/self/fd`) after "
            f"each day's last job.\n")
        add("| day | cycles so far | RSS MiB | vs day 2 | open FDs | trades | broker requests "
            "so far | seed's plan | ratio |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        ref = samples[1]["rss_kib"] if len(samples) > 1 else samples[0]["rss_kib"]
        for x in samples:
            add(f"| {x['day']} | {x['cycles']:,} | {x['rss_kib'] / 1024:.1f} | "
                f"{x['rss_kib'] / ref - 1:+.1%} | {x['fds']} | {x['trades']} | "
                f"{x['requests']:,} | {x['seed_requests']:,} | "
                f"{_ratio(x['requests'], x['seed_requests'])} |")
        add("")
        add("The seed's column is what its plan would have sent on this book: one request per "
            "pending order at each order-monitor cycle and one per position at each "
            "position-monitor cycle, counted from our rows at each fire, not sent; ours "
            "counts every request, the executor's included. RSS and descriptors have no "
            "baseline: the seed's plan is a polling pattern, not a process.\n")
    text = "\n".join(lines).rstrip() + "\n"
    # The section scripts/measure_notify_latency.py --monitors --write-doc adds stays.
    kept = out.read_text() if out.exists() else ""
    mark = "<!-- measure_notify_latency.py --monitors"
    if mark in kept:
        text += "\n" + kept[kept.index(mark):]
    out.write_text(text)
    return text


# -- the command --------------------------------------------------------------------------------

def _log(message: str, started: float) -> None:
    print(f"[{time.perf_counter() - started:7.1f}s] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="N = 10 and 100, fewer samples, three days (about two minutes)")
    parser.add_argument("--sizes", help="comma-separated N (default 10,100,1000)")
    parser.add_argument("--only", help="comma-separated: monitor, positions, executor, "
                                       "window, daemon, capacity (default: all)")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--time-scale", type=float, default=3.0,
                        help="speed-up of the rate limits for the executor (default 3)")
    parser.add_argument("--days", type=int, help="simulated trading days (default 5)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "performance.md"))
    parser.add_argument("--executor-only", action="store_true",
                        help="only the executor without a rate limit; print JSON")
    parser.add_argument("--decisions", type=int, default=100, help="with --executor-only")
    parser.add_argument("--verbose", action="store_true", help="the jobs' own log lines")
    parser.add_argument("--daemon-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    import logging

    if not args.verbose:
        logging.disable(logging.CRITICAL)
    if args.daemon_child:
        spec = json.loads(args.daemon_child)
        print(json.dumps(daemon_child(spec["params"], spec["days"], spec["latency_ms"],
                                      spec["per_day"])))
        return 0
    started = time.perf_counter()
    with ExitStack() as stack:
        lab = Lab(Databases(stack), latency_ms=args.latency_ms, time_scale=args.time_scale)
        if args.executor_only:
            print(json.dumps(measure_executor_capacity(lab, args.decisions), indent=2))
            return 0
        sizes = [int(x) for x in args.sizes.split(",")] if args.sizes else (
            [10, 100] if args.quick else [10, 100, 1000])
        if args.quick:
            lab.repeats, lab.window_samples, lab.poll_samples, lab.bracket_samples = 3, 20, 5, 6
            lab.days, lab.daemon_latency_ms, lab.seed_executor_up_to = 3, 0.0, 10
        if args.days:
            lab.days = args.days
        only = set(args.only.split(",")) if args.only else {
            "monitor", "positions", "executor", "window", "daemon", "capacity"}
        r = Results(sizes)
        for n in sizes:
            if "monitor" in only:
                _log(f"order monitor, N = {n}", started)
                r.monitor += measure_order_monitor(lab, n)
            if "positions" in only:
                _log(f"position monitor, N = {n}", started)
                r.positions += measure_position_monitor(lab, n)
        for n in sizes:
            if "executor" in only:
                _log(f"executor under the rate limit, N = {n}", started)
                r.executor.append(measure_executor(lab, n))
        if "capacity" in only:
            _log("executor without a rate limit, N = 100", started)
            r.capacity = measure_executor_capacity(lab, 100)
        if "window" in only:
            seed_pass = {c.n: c.seed.seconds for c in r.monitor if c.case == "nothing changed"}
            for n in sizes:
                _log(f"unprotected window, staged, N = {n}", started)
                r.windows += measure_staged_window(lab, n, seed_pass.get(n))
            for stream in (True, False):
                _log(f"unprotected window, bracket, stream={stream}", started)
                r.windows.append(measure_bracket_window(lab, stream=stream))
        if "daemon" in only:
            _log(f"the daemon over {lab.days} simulated days", started)
            r.daemon = measure_daemon(lab)
        r.seconds = time.perf_counter() - started
        command = shlex.join(["python", "scripts/benchmark.py", *(
            sys.argv[1:] if argv is None else argv)])
        text = write_report(r, lab, lab.dbs, command, Path(args.out), args.quick)
    _log(f"wrote {args.out}", started)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
