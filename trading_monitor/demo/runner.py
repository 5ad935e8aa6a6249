"""One demo week: an embedded PostgreSQL, the paper exchange in this process on a stepped
clock, the real Daemon driven through its triggers' fire times (driver.py), the scripted
decisions and market events (script.py) slotted in at their simulated times."""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.transport import RequestBudget
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.embedded_pg import EmbeddedPostgres
from trading_monitor.db.queries import Queries
from trading_monitor.demo.driver import DaemonDriver, Fire
from trading_monitor.demo.script import Action, Scripted, Week, build_week
from trading_monitor.demo.summary import collect
from trading_monitor.paper_exchange import PaperExchange
from trading_monitor.settings.config import Settings, load_settings

QUERIES = Queries(__name__)  # queries.sql beside this module

log = logging.getLogger(__name__)
KEYS = {"ALPACA_API_KEY": "PKDEMO00000000000001", "ALPACA_SECRET_KEY": "demo-secret-not-real"}


@dataclass(frozen=True)
class Options:
    days: int = 5
    seed: int = 7
    speed: float = 0.0  # simulated seconds per wall second within a day; 0: unpaced
    keep_db: bool = False
    out_dir: Path | None = None
    db_params: dict[str, Any] | None = None  # an existing migrated database (tests)


@dataclass
class Run:
    """What one demo week did (the summary reads the rest from the database)."""

    week: Week
    out_dir: Path
    db_params: dict[str, Any]
    decision_ids: dict[str, int] = field(default_factory=dict)  # script label -> row id
    fired: list[tuple[datetime, str, bool]] = field(default_factory=list)  # at, job, ran
    started_at: datetime | None = None  # the first election (start-up reconciliation)
    wall_seconds: float = 0.0
    job_seconds: dict[str, float] = field(default_factory=dict)  # job id -> wall seconds
    check: Any = None  # trading_monitor.invariants.Report
    report: Any = None  # trading_monitor.report.ReportFiles, when that module exists
    report_error: str | None = None
    summary: Any = None  # trading_monitor.demo.summary.Summary
    broker_positions: list[dict[str, Any]] = field(default_factory=list)
    kept_dsn: str | None = None
    stop_hint: str | None = None
    steps: int = 0  # decisions, market moves and job fire times played (the progress bar's)


Progress = Callable[[datetime, str, int, int], None]  # at, what, done, total


def demo_settings(exchange: PaperExchange, out_dir: Path) -> Settings:
    """The defaults a user gets, pointed at the exchange (no .env, no environment)."""
    return load_settings({**KEYS, "ALPACA_BASE_URL": exchange.url,
                          "ALPACA_DATA_URL": exchange.url,
                          "ALPACA_STREAM_URL": exchange.stream_url,
                          "CLOCK_SOURCE": "broker", "BROKER_REQUESTS_PER_MINUTE": "100000",
                          "CANCEL_SETTLE_SECONDS": "1", "LOG_LEVEL": "INFO",
                          "REPORT_DIR": str(out_dir)},
                         need_broker=True)


@contextmanager
def _database(options: Options, run_box: list[Run]) -> Iterator[dict[str, Any]]:
    if options.db_params is not None:
        yield options.db_params
        return
    server = EmbeddedPostgres().start()
    try:
        with TradingDB(config=server.params) as db:
            db.create_schema()
        yield server.params
    finally:
        if options.keep_db and run_box:
            run_box[0].stop_hint = _stop_hint(server.params)
            run_box[0].kept_dsn = server.detach()
        else:
            server.stop()


def _stop_hint(params: dict[str, Any]) -> str:
    with TradingDB(config=params) as db:
        data = str(db.execute_query(QUERIES["data_directory"])[0]["data_directory"])
    base = str(Path(data).parent)
    # The files go only once the server has exited (a fast shutdown takes a moment).
    return (f"pid=$(head -1 {data}/postmaster.pid) && kill -INT $pid && "
            f"while kill -0 $pid 2>/dev/null; do sleep 0.2; done && rm -rf {base}")


def _scenario_file(week: Week, folder: Path) -> Path:
    path = folder / "prices.json"
    path.write_text(json.dumps(week.path.points()), encoding="utf-8")
    return path


def run_demo(options: Options, progress: Progress | None = None) -> Run:
    week = build_week(options.seed, options.days)
    out_dir = options.out_dir or Path(tempfile.mkdtemp(prefix="trading-monitor-demo-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    box: list[Run] = []
    began = time.monotonic()
    with ExitStack() as stack:
        params = stack.enter_context(_database(options, box))
        run = Run(week, out_dir, params)
        box.append(run)
        scenario = _scenario_file(week, out_dir)
        exchange = stack.enter_context(PaperExchange(
            seed=options.seed, start=week.start, clock_mode="stepped", scenario=scenario,
            rate_limit_per_min=None, api_key=KEYS["ALPACA_API_KEY"],
            secret_key=KEYS["ALPACA_SECRET_KEY"]))
        _Week(run, exchange, options, progress).play()
    run.wall_seconds = time.monotonic() - began
    return run


def _listener_class() -> Any:
    from trading_monitor.order_monitor.listener import OrderStreamListener

    class Listener(OrderStreamListener):
        """The daemon's listener, saying when its first full sync is done: the week waits
        for it, so that sync runs at the start time rather than wherever the clock has got
        to by the time the socket is up."""

        synced = threading.Event()

        def on_connect(self) -> None:
            super().on_connect()
            self.synced.set()

    return Listener


class _Week:
    def __init__(self, run: Run, exchange: PaperExchange, options: Options,
                 progress: Progress | None):
        from trading_monitor.daemon.app import Daemon

        listener = self.listener = _listener_class()
        self.run, self.exchange, self.options = run, exchange, options
        self.progress = progress or (lambda *_: None)
        self.settings = demo_settings(exchange, run.out_dir)
        self.now = exchange.venue.clock.now  # the simulated time: every row carries it
        self.broker = AlpacaBroker(self.settings, budget=RequestBudget(10_000_000))
        stream_broker = AlpacaBroker(self.settings, budget=RequestBudget(10_000_000))
        params, settings, now = run.db_params, self.settings, self.now
        self.daemon = Daemon(settings, params, self.broker, now=now, listener_factory=lambda:
                             listener(params, stream_broker, settings, now=now))
        self.driver = DaemonDriver(self.daemon, exchange.control.set_clock)

    def timeline(self) -> list[tuple[datetime, int, Any]]:
        week = self.run.week
        items: list[tuple[datetime, int, Any]] = [(d.at, 0, d) for d in week.decisions]
        items += [(a.at, 0, a) for a in week.actions]
        items += [(f.at, 1, f) for f in self.driver.fires(week.start, week.end)]
        return sorted(items, key=lambda item: (item[0], item[1]))  # the world before a job

    def play(self) -> None:
        items = self.timeline()
        self.run.steps = len(items)
        pace = _Pace(self.options.speed)
        # n8n's rows are written at the simulated moment too (db/clock.py)
        with TradingDB(config=self.run.db_params, application_name="demo n8n",
                       clock=self.now) as db:
            self.run.started_at = self.now()
            self.driver.start()
            if not self.listener.synced.wait(30):
                log.warning("the order stream did not connect within 30 s; going on")
            for done, (at, _, item) in enumerate(items, start=1):
                pace.wait(at)
                if isinstance(item, Fire):
                    ran = self.driver.run(item)
                    self.run.fired.append((item.at, item.job_id, ran))
                    what = item.job_id if ran else f"{item.job_id} (not run)"
                else:
                    self.exchange.control.set_clock(at)
                    what = self._world(db, item)
                self.progress(at, what, done, len(items))
            time.sleep(0.5)  # let the order stream finish what the last job set off
        self.run.job_seconds = dict(self.driver.seconds)
        self._finish()

    def _world(self, db: TradingDB, item: Scripted | Action) -> str:
        control = self.exchange.control
        if isinstance(item, Action):
            if item.kind == "close_by_hand":
                control.close_position_manually(item.symbol)
            else:
                control.set_partial_fill(item.symbol, item.ratio)
            return f"{item.kind.replace('_', ' ')} {item.symbol}"
        body = dict(item.body)
        if item.refers_to is not None:
            body["existing_trade_journal_id"] = self._journal_of(db, item.refers_to)
        row = {"decision": body, "ticker": body["ticker"],
               "primary_action": body["primary_action"], "analysis_date": item.at.date(),
               "existing_trade_journal_id": body.get("existing_trade_journal_id")}
        decision_id = db.insert("analysis_decision", row)
        # written as n8n would at that (simulated) moment
        db.execute_update(QUERIES["backdate_decision"],
                          [item.at, decision_id])
        self.run.decision_ids[item.label] = decision_id
        return f"n8n: {body['primary_action']} {body['ticker']}"

    def _journal_of(self, db: TradingDB, label: str) -> int | None:
        rows = db.execute_query(
            QUERIES["trade_of_decision"], [self.run.decision_ids[label]])
        return int(rows[0]["id"]) if rows else None

    def _finish(self) -> None:
        from trading_monitor.invariants import run_check

        self.daemon.close()
        self.run.check = run_check(self.run.db_params, self.broker, self.settings, now=self.now)
        self.run.broker_positions = self.exchange.control.state()["positions"]
        self._write_report()
        with TradingDB(config=self.run.db_params, read_only=True) as db:
            self.run.summary = collect(db, self.run.broker_positions)

    def _write_report(self) -> None:
        try:
            from trading_monitor.report import write_report
        except ImportError:  # written alongside the demo; the demo runs without it
            self.run.report_error = "trading_monitor.report is not installed yet"
            return
        last = self.run.week.sessions[-1].day
        with TradingDB(config=self.run.db_params) as db:
            self.run.report = write_report(db, last, self.run.out_dir)


class _Pace:
    """At most `speed` simulated seconds per wall second; the night between two trading days
    costs nothing (each day's first event restarts the pace)."""

    def __init__(self, speed: float):
        self.speed = speed
        self._anchor: tuple[datetime, float] | None = None

    def wait(self, at: datetime) -> None:
        if self.speed <= 0:
            return
        if self._anchor is None or at.date() != self._anchor[0].date():
            self._anchor = (at, time.monotonic())
            return
        due = self._anchor[1] + (at - self._anchor[0]).total_seconds() / self.speed
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
