"""Measurement 5: the real Daemon over simulated trading days, in a process of its own
(`scripts/benchmark.py --daemon-child`), with its RSS and open descriptors after each day."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from trading_monitor.db.connection import TradingDB
from trading_monitor.demo.driver import DaemonDriver, new_york
from trading_monitor.domain.lifecycle import FINAL_ORDER_STATUSES
from trading_monitor.order_monitor.listener import OrderStreamListener

from .book import add_decision
from .lab import (
    PRICE_CHECKS,
    ROOT,
    SYMBOLS,
    Exchange,
    Lab,
    open_fds,
    rss_kib,
    settings_for,
    unlimited_broker,
)

ENTRY_POINT = ROOT / "scripts" / "benchmark.py"  # the child runs the same command
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
                samples.append({"day": str(day), "rss_kib": rss_kib(), "fds": open_fds(),
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
        [sys.executable, str(ENTRY_POINT), "--daemon-child", json.dumps({
            "params": params, "days": lab.days,
            "latency_ms": lab.latency_ms if lab.daemon_latency_ms is None
            else lab.daemon_latency_ms,
            "per_day": lab.decisions_per_day})],
        capture_output=True, text=True, cwd=ROOT, check=False)
    lab.dbs.drop(params)
    if child.returncode != 0:
        raise RuntimeError(f"the daemon run failed:\n{child.stderr[-3000:]}")
    return dict(json.loads(child.stdout.strip().splitlines()[-1]))

