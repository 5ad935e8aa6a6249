#!/usr/bin/env python3
"""Decision-to-order latency with LISTEN/NOTIFY (issue 24). A measurement, not a test.

    uv run python scripts/measure_notify_latency.py              # 12 samples each
    uv run python scripts/measure_notify_latency.py --samples 30
    uv run python scripts/measure_notify_latency.py --write-doc  # its table into performance.md
    uv run python scripts/measure_notify_latency.py --monitors   # the monitors' share only
    uv run python scripts/measure_notify_latency.py --monitors --write-doc  # into performance.md

The real daemon (leader, DECISION_POLLING=false, default NOTIFY_MIN_GAP_SECONDS) runs in
this process against an in-process paper exchange with 50 ms added to every request and
Alpaca's 200 requests a minute, on an embedded PostgreSQL. Latency is from the commit of
the row (the insert returned) to the moment the order is first seen at the exchange
(accepted; for a CANCEL: canceled), found by polling the exchange's control API every
20 ms (so figures carry up to 20 ms of that). Measured:

- a single NEW_TRADE, samples spaced past the minimum gap;
- a single CANCEL of a resting entry;
- a burst of 100 NEW_TRADEs (each row its own commit), with its budget target;
- a NEW_TRADE every second for a minute: what the minimum gap costs in latency, and the
  requests the executor leaves the monitors;
- the kill switch flipped in the middle of a burst: how long after its commit an entry was
  still accepted (the promise: none later than 1 s).

The 2-minute poll is given analytically: a decision waits uniformly 0-120 s for the next
fire, plus the same cycle time.

`--monitors`: the monitors' share of the request budget under a trickle of decisions, with
the monitors running (a daemon of its own: the order monitor every 15 s and the position
monitor every 30 s, 20 times their default pace, on 6 protected positions). A quiet minute
(monitors alone), then a minute with a NEW_TRADE every second: requests per minute by job
(every slot taken from the process's request budget, by the job that took it), cycles, the
longest wait for a budget slot, and the exchange's 429s. `--write-doc` puts each run's
table in docs/performance.md, in place of its own section after the mark that
scripts/benchmark.py keeps (the other run's section stays).
"""

from __future__ import annotations

import argparse
import re
import statistics
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from apscheduler.triggers.interval import IntervalTrigger

from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.transport import RequestBudget
from trading_monitor.daemon.app import Daemon
from trading_monitor.daemon.wakeups import UP
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.embedded_pg import EmbeddedPostgres
from trading_monitor.ledger.runs import current_run_id
from trading_monitor.paper_exchange.server import PaperExchange
from trading_monitor.settings.config import load_settings

START = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)  # Fri 10:00 New York
KEYS = {"ALPACA_API_KEY": "PKTESTKEY0000000001", "ALPACA_SECRET_KEY": "test-secret-9f8e7d"}
SYMBOLS = ["AAPL", "MSFT", "NVDA", "TSLA", "SPY", "AMD"]


class Watcher:
    """Polls the exchange's orders; the monotonic time each one was first seen, per status."""

    def __init__(self, exchange: PaperExchange):
        self.exchange = exchange
        self.seen: dict[tuple[str, str], float] = {}
        self.entries: set[str] = set()  # buys: the entries (a bracket's legs are sells)
        self._stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            for o in self.exchange.control.orders():
                self.seen.setdefault((o["client_order_id"], o["status"]), now)
                self.seen.setdefault((o["client_order_id"], "sent"), now)
                if o["side"] == "buy":
                    self.entries.add(o["client_order_id"])
            time.sleep(0.02)

    def when(self, coid: str, status: str = "sent", timeout: float = 60) -> float:
        deadline = time.monotonic() + timeout
        while (coid, status) not in self.seen:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{coid} never {status}")
            time.sleep(0.005)
        return self.seen[(coid, status)]

    def stop(self) -> None:
        self._stop.set()


def decision(db: TradingDB, body: dict[str, Any]) -> tuple[int, float]:
    row = {"decision": body, "ticker": body["ticker"], "primary_action": body["primary_action"]}
    if "existing_trade_journal_id" in body:
        row["existing_trade_journal_id"] = body["existing_trade_journal_id"]
    ident = db.insert("analysis_decision", row)  # committed when it returns
    return ident, time.monotonic()


def entry(symbol: str) -> dict[str, Any]:
    return {"ticker": symbol, "primary_action": "NEW_TRADE", "side": "BUY",
            "trade_style": "SWING", "entry_price": "100.00", "stop_loss": "95.00",
            "take_profit": "120.00", "quantity": 1}


def outcome(db: TradingDB, ident: int, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = db.query("decision_outcome", {"analysis_decision_id": ident})
        if rows:
            return rows[0]
        time.sleep(0.02)
    raise TimeoutError(f"decision {ident} never settled")


def figures(name: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    return (f"| {name} | {len(ms)} | {statistics.median(ms):.0f} ms | {p99:.0f} ms | "
            f"{ms[-1]:.0f} ms |")


def idle(daemon: Daemon, gap: float) -> None:
    """Past the minimum gap and inside the woken cycles' share of the request budget: a
    single decision as it comes on a quiet day."""
    time.sleep(gap)
    while not daemon._within_share():
        time.sleep(0.5)


def singles(db: TradingDB, watch: Watcher, daemon: Daemon, gap: float, samples: int
            ) -> tuple[list[float], list[float]]:
    new, cancel = [], []
    for i in range(samples):
        idle(daemon, gap)
        ident, committed = decision(db, entry(SYMBOLS[i % len(SYMBOLS)]))
        done = outcome(db, ident)
        new.append(watch.when(done["client_order_id"]) - committed)
        idle(daemon, gap)
        ident, committed = decision(db, {"ticker": done["ticker"], "primary_action": "CANCEL",
                                         "existing_trade_journal_id": done["trade_journal_id"]})
        outcome(db, ident)
        cancel.append(watch.when(done["client_order_id"], "canceled") - committed)
    return new, cancel


def burst(db: TradingDB, watch: Watcher, daemon: Daemon, n: int = 100
          ) -> tuple[list[float], float, int, int]:
    requests_before, cycles_before = daemon.broker.requests_sent, daemon.dispatcher.cycles  # type: ignore[union-attr]
    ids = [decision(db, entry(SYMBOLS[i % len(SYMBOLS)])) for i in range(n)]
    began = ids[0][1]
    lat, last = [], began
    for ident, committed in ids:
        done = outcome(db, ident)
        if done["client_order_id"] and done["terminal_state"] == "EXECUTED":
            at = watch.when(done["client_order_id"])
            lat.append(at - committed)
            last = max(last, at)
    return (lat, last - began, daemon.broker.requests_sent - requests_before,
            daemon.dispatcher.cycles - cycles_before)  # type: ignore[union-attr]


def trickle(db: TradingDB, watch: Watcher, daemon: Daemon, seconds: int = 60
            ) -> tuple[list[float], int, int]:
    """A decision every second for a minute: their latencies (the minimum gap shows), and
    the requests and woken cycles the executor spent on them in that minute."""
    requests_before, cycles_before = daemon.broker.requests_sent, daemon.dispatcher.cycles  # type: ignore[union-attr]
    began, ids = time.monotonic(), []
    for i in range(seconds):
        ids.append(decision(db, entry(SYMBOLS[i % len(SYMBOLS)])))
        time.sleep(max(0.0, began + i + 1 - time.monotonic()))
    lat = []
    for ident, committed in ids:
        done = outcome(db, ident)
        if done["client_order_id"] and done["terminal_state"] == "EXECUTED":
            lat.append(watch.when(done["client_order_id"]) - committed)
    return (lat, daemon.broker.requests_sent - requests_before,
            daemon.dispatcher.cycles - cycles_before)  # type: ignore[union-attr]


def kill_switch(db: TradingDB, watch: Watcher, n: int = 60) -> tuple[float | None, int]:
    """Flip the kill switch while a burst is being sent: the latest entry accepted after
    the flip's commit (None: none), and how many went out after it."""
    for i in range(n):
        decision(db, entry(SYMBOLS[i % len(SYMBOLS)]))
        if i == n // 2:
            time.sleep(0.5)  # the cycle has started sending
    db.execute_update("INSERT INTO system_state (key, value, reason) VALUES ('kill_switch', "
                      "'on', 'measure') ON CONFLICT (key) DO UPDATE SET value = 'on'")
    flipped = time.monotonic()
    time.sleep(15)
    after = [t - flipped for (coid, status), t in list(watch.seen.items())
             if status == "sent" and t > flipped and coid in watch.entries]
    return (max(after) if after else None), len(after)


# -- the monitors' share (--monitors) --------------------------------------------------------

MONITORS = {"order_monitor": 15, "position_monitor": 30}  # seconds between their cycles
DOC = Path(__file__).resolve().parents[1] / "docs" / "performance.md"
MARK = "<!-- measure_notify_latency.py --monitors: kept by scripts/benchmark.py -->"
MONITORS_HEADING = "## The monitors' share of the request budget under a trickle"
LATENCY_HEADING = "## Decision-to-order latency (LISTEN/NOTIFY)"


class JobBudget:
    """Every slot taken from the process's request budget, by the job whose thread took it
    (the run id's job name; the daemon's own calendar and clock reads show as `daemon`)."""

    def __init__(self, budget: RequestBudget):
        self.requests: Counter[str] = Counter()
        self.max_wait: dict[str, float] = defaultdict(float)
        self._lock = threading.Lock()
        take = budget.acquire

        def counted() -> None:
            job = current_run_id.get().split("-")[0] or "daemon"
            started = time.monotonic()
            take()
            waited = time.monotonic() - started
            with self._lock:
                self.requests[job] += 1
                self.max_wait[job] = max(self.max_wait[job], waited)
        budget.acquire = counted  # type: ignore[method-assign]

    def window(self) -> tuple[Counter[str], dict[str, float]]:
        with self._lock:
            taken = (Counter(self.requests), dict(self.max_wait))
            self.requests.clear()
            self.max_wait.clear()
        return taken


def cycles_since(db: TradingDB, after_id: int) -> tuple[Counter[str], int]:
    rows = db.execute_query("SELECT id, job_name FROM job_run WHERE id > %s", [after_id])
    return Counter(r["job_name"] for r in rows), max([after_id, *(r["id"] for r in rows)])


def monitors_share(ex: PaperExchange, pg: EmbeddedPostgres, settings: Any, limited: list[int]
                   ) -> list[str]:
    budget = RequestBudget(settings.broker_requests_per_minute)
    jobs = JobBudget(budget)
    with TradingDB(config=pg.params) as db:
        db.create_schema()
        daemon = Daemon(settings, pg.params, AlpacaBroker(settings, budget=budget),
                        now=ex.venue.clock.now, election_seconds=1)
        for job, every in MONITORS.items():
            daemon.scheduler.reschedule_job(job, trigger=IntervalTrigger(seconds=every))
        runner = threading.Thread(target=daemon.run, daemon=True)
        runner.start()
        while not (daemon.notify_listener and daemon.notify_listener.state == UP):
            time.sleep(0.05)
        held = [decision(db, {**entry(s), "entry_price": "101.00"})[0] for s in SYMBOLS]
        for ident in held:  # marketable: six positions, each with its bracket's stop
            outcome(db, ident)
        time.sleep(max(MONITORS.values()) + 5)  # every monitor has run on them
        _, mark = cycles_since(db, 0)
        jobs.window()
        limits = limited[0]
        time.sleep(60)
        quiet, quiet_wait = jobs.window()
        quiet_cycles, mark = cycles_since(db, mark)
        quiet_429, limits = limited[0] - limits, limited[0]
        began, ids = time.monotonic(), []
        for i in range(60):
            ids.append(decision(db, entry(SYMBOLS[i % len(SYMBOLS)]))[0])
            time.sleep(max(0.0, began + i + 1 - time.monotonic()))
        for ident in ids:
            outcome(db, ident)
        took = time.monotonic() - began
        busy, busy_wait = jobs.window()
        busy_cycles, _ = cycles_since(db, mark)
        busy_429 = limited[0] - limits
        daemon.stop()
        runner.join(timeout=30)
    names = {"order_executor": "executor (woken)", "order_monitor": "order monitor",
             "position_monitor": "position monitor", "daemon": "daemon (calendar, clock)"}
    per_min = 60 / took
    lines = [MONITORS_HEADING, "",
             "Written by `uv run python scripts/measure_notify_latency.py --monitors "
             "--write-doc` (issue 24; a measurement, not a test). The real daemon "
             "(DECISION_POLLING=false: decisions act on their notification), the paper exchange "
             "with 50 ms added to every request and its 200-a-minute limit, "
             f"BROKER_REQUESTS_PER_MINUTE={settings.broker_requests_per_minute}; the order "
             f"monitor every {MONITORS['order_monitor']} s and the position monitor every "
             f"{MONITORS['position_monitor']} s (20 times their default pace) on 6 protected "
             "positions. A quiet minute, then a NEW_TRADE (a resting entry) every second for "
             f"a minute; that minute's figures run until its last decision was acted on "
             f"({took:.0f} s), per minute. Requests are the slots each job took from the "
             "process's budget; the wait is the longest a request of that job waited for one.",
             "", "| job | quiet: requests/min | cycles | longest wait | trickle: requests/min "
             "| cycles | longest wait |", "|---|---:|---:|---:|---:|---:|---:|"]
    for job in sorted(set(quiet) | set(busy) | set(MONITORS), key=lambda j: names.get(j, j)):
        lines.append(f"| {names.get(job, job)} | {quiet[job]} | {quiet_cycles[job]} | "
                     f"{quiet_wait.get(job, 0.0):.2f} s | {busy[job] * per_min:.0f} | "
                     f"{busy_cycles[job]} | {busy_wait.get(job, 0.0):.2f} s |")
    woken = busy["order_executor"] * per_min
    budget_min = settings.broker_requests_per_minute
    waited = max(busy_wait.get(j, 0.0) for j in MONITORS)
    lines += [f"| all | {sum(quiet.values())} | | | {sum(busy.values()) * per_min:.0f} | | |",
              "", f"429 answers from the exchange: {quiet_429} in the quiet minute, "
              f"{busy_429} in the trickle. The woken executor took {woken:.0f} of the "
              f"{budget_min} requests a minute ({woken / budget_min:.0%}): its share rule "
              "(half) is checked before a woken cycle starts, so a cycle that starts under it "
              "may carry past it. The monitors' requests waited at most "
              f"{waited:.2f} s for a slot. Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} "
              "UTC on 2 shared cores."]
    return lines


def write_doc(section: list[str]) -> None:
    """`section` (its heading first) after MARK in docs/performance.md, in place of the
    section with the same heading; the other sections after MARK stay."""
    head, _, tail = DOC.read_text().partition(MARK)
    body = "\n".join(section).rstrip() + "\n"
    parts = [p.rstrip() + "\n" for p in re.split(r"(?m)^(?=## )", tail) if p.strip()]
    parts = [body if p.startswith(section[0] + "\n") else p for p in parts]
    if body not in parts:
        parts.append(body)
    DOC.write_text(head.rstrip() + "\n\n" + MARK + "\n\n" + "\n".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=12)
    parser.add_argument("--monitors", action="store_true",
                        help="only the monitors' share of the budget under a trickle")
    parser.add_argument("--write-doc", action="store_true",
                        help="write the run's table into docs/performance.md")
    args = parser.parse_args()
    pg = EmbeddedPostgres().start()
    with PaperExchange(seed=1, start=START, clock_mode="stepped",
                       rate_limit_per_min=200).start() as ex:
        limited = [0]
        take = ex.venue.bucket.take

        def counted() -> bool:
            ok = take()
            limited[0] += not ok
            return ok
        ex.venue.bucket.take = counted  # type: ignore[method-assign]
        ex.control.set_prices({s: "100.50" for s in SYMBOLS})
        ex.control.set_fault("*", "latency", ms=50, probability=1.0)
        settings = load_settings({**KEYS, "ALPACA_BASE_URL": ex.url, "ALPACA_DATA_URL": ex.url,
                                  "ALPACA_STREAM_URL": ex.stream_url, "CLOCK_SOURCE": "broker",
                                  "DECISION_POLLING": "false", "BLOCK_DUPLICATE_ENTRY": "false",
                                  "BLOCK_SAME_DAY_REENTRY": "false", "COCKPIT_PORT": "0"},
                                 need_broker=True)
        if args.monitors:
            lines = monitors_share(ex, pg, settings, limited)
            pg.stop()
            print("\n".join(lines[2:]))  # without the heading
            if args.write_doc:
                write_doc(lines)
            return
        with TradingDB(config=pg.params) as db:
            db.create_schema()
            daemon = Daemon(settings, pg.params, AlpacaBroker(settings),
                            now=ex.venue.clock.now, election_seconds=1)
            runner = threading.Thread(target=daemon.run, daemon=True)
            runner.start()
            watch = Watcher(ex)
            while not (daemon.notify_listener and daemon.notify_listener.state == UP):
                time.sleep(0.05)
            gap = settings.notify_min_gap_seconds + 0.5
            new, cancel = singles(db, watch, daemon, gap, args.samples)
            idle(daemon, gap)
            lat, took, requests, cycles = burst(db, watch, daemon)
            target = requests / (settings.broker_requests_per_minute / 60) + 5
            idle(daemon, 60)  # the burst's requests out of the window
            slow, spent, woken = trickle(db, watch, daemon)
            time.sleep(gap)
            late, count = kill_switch(db, watch)
            watch.stop()
            daemon.stop()
            runner.join(timeout=30)  # its heartbeat row is marked before the server stops
    pg.stop()
    budget = settings.broker_requests_per_minute
    lines = [
        LATENCY_HEADING, "",
        "Written by `uv run python scripts/measure_notify_latency.py --write-doc` (issue 24; a "
        "measurement, not a test). The real daemon (leader, DECISION_POLLING=false), the paper "
        "exchange in this process with 50 ms added to every request and its 200-a-minute "
        f"limit, BROKER_REQUESTS_PER_MINUTE={budget}, embedded PostgreSQL; from the row's "
        "commit to the order first seen at the exchange (a CANCEL: its entry `canceled`), "
        "polled every 20 ms. The 2-minute poll is analytic (uniform 0-120 s). What the "
        "daemon promises, and why: [daemon.md](daemon.md#acting-within-a-second).", "",
        "| Case | n | p50 | p99 | max |", "|---|---|---|---|---|",
        figures("a single NEW_TRADE", new), figures("a single CANCEL (of a resting entry)",
                                                    cancel),
        figures("a burst of 100 NEW_TRADEs, each decision", lat),
        figures("a NEW_TRADE every second for a minute, each decision", slow),
        "| any decision, the 2-minute poll alone (analytic: uniform 0-120 s, plus the cycle) "
        "| - | 60 s | 118.8 s | 120 s |", "",
        f"Burst: the last order {took:.1f} s after the first commit, {requests} requests in "
        f"{cycles} woken cycle(s) (target: requests / ({budget}/60) + 5 s = {target:.1f} s), "
        f"{limited[0]} x 429 in the whole run. Trickle: the executor spent {spent} requests "
        f"in that minute ({woken} woken cycles), {budget - spent} of {budget} left for the "
        f"monitors. Kill switch flipped during a burst: {count} entr(ies) accepted after its "
        "commit" + (f", the last {late * 1000:.0f} ms after" if late is not None else "")
        + f". Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on 2 shared cores."]
    print("\n".join(lines[2:]))
    if args.write_doc:
        write_doc(lines)


if __name__ == "__main__":
    main()
