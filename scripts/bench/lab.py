"""The lab: one PostgreSQL server with a migrated template, the paper exchange in its own
process on a stepped clock, the settings and brokers the jobs run with, and the run's knobs."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg2
import requests
from psycopg2 import sql
from psycopg2.extensions import parse_dsn

from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.transport import RequestBudget
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.embedded_pg import EmbeddedPostgres
from trading_monitor.paper_exchange import ExchangeControl
from trading_monitor.settings.config import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent.parent
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
        return rss_kib(self.proc.pid)

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



def rss_kib(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))
