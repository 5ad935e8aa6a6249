"""What every drill checks after the restart (crash drills, fault storms, PostgreSQL restart,
leadership), and how it starts a real job process. No tests of its own.

`assert_books_hold` runs the invariant checker (the Python API behind `trading-monitor
check`, which reads the live stops from the broker) and then counts at the exchange itself
(/control/orders), not in our tables: no decision with two entry orders that could trade,
every broker position covered by live stops and none over-covered, every decision terminal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.conftest import exchange_env
from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.transport import RequestBudget
from trading_monitor.crashpoints import ENV_VAR
from trading_monitor.db.connection import TradingDB
from trading_monitor.invariants import run_check
from trading_monitor.invariants.model import VIOLATION
from trading_monitor.paper_exchange import PaperExchange
from trading_monitor.settings.config import Settings

# How long a daemon may take to get somewhere: generous, as a 2-core CI machine running two
# workers can be slow (these waits failed at 60 s under load); they bound, never pace.
SLOW_MACHINE = 150

ROOT = Path(__file__).resolve().parents[2]
LIVE = ("new", "accepted", "partially_filled", "pending_cancel", "pending_replace", "held",
        "pending_new")
TRADED = ("filled", "partially_filled")
STOP_TYPES = ("stop", "stop_limit", "trailing_stop")


def job_env(exchange: PaperExchange, db_params: dict[str, Any], **extra: str) -> dict[str, str]:
    """The environment of a job or daemon process: the exchange's keys and URLs, our DB."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ALPACA", "POSTGRES", ENV_VAR))}
    env.update(exchange_env(exchange, **extra))
    env["DATABASE_URL"] = (f"postgresql://{db_params['user']}@{db_params['host']}:"
                           f"{db_params['port']}/{db_params['dbname']}")
    return env


def kill_job_at(module: str, point: str, exchange: PaperExchange, db_params: dict[str, Any],
                cwd: Path, **extra: str) -> int:
    """`python -m <module>` with the crash point armed: -SIGKILL if reached, else 0."""
    env = job_env(exchange, db_params, **extra)
    env[ENV_VAR] = point
    done = subprocess.run([sys.executable, "-m", module], env=env, cwd=cwd,
                          capture_output=True, timeout=120)
    assert done.returncode in (0, -signal.SIGKILL), done.stderr.decode()[-2000:]
    return done.returncode


def _owner(client_order_id: str) -> str | None:
    """`tm-<installation>-d<id>-entry[-n]` -> `d<id>` (None for orders not of ours)."""
    parts = client_order_id.split("-")
    if len(parts) < 4 or parts[0] != "tm":
        return None
    return parts[2]


def exchange_findings(exchange: PaperExchange) -> list[str]:
    """Duplicates and unprotected or over-protected positions, counted at the exchange."""
    orders = exchange.control.orders()
    state = exchange.control.state()
    problems: list[str] = []
    entries: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for o in orders:
        owner = _owner(o["client_order_id"] or "")
        if owner and "-entry" in o["client_order_id"] and o["status"] != "replaced" and (
                o["status"] in LIVE + TRADED or Decimal(o["filled_qty"] or 0) > 0):
            entries[owner].append(o)
    for owner, found in entries.items():
        if len(found) > 1:
            problems.append(f"{owner}: {len(found)} entry orders at the broker: "
                            f"{[o['client_order_id'] for o in found]}")
    held = {p["symbol"]: Decimal(p["qty"]) for p in state["positions"]}
    for symbol in set(held) | {o["symbol"] for o in orders}:
        qty = held.get(symbol, Decimal(0))
        exit_side = "sell" if qty > 0 else "buy"
        stops = [o for o in orders if o["symbol"] == symbol and o["status"] in LIVE
                 and o["order_type"] in STOP_TYPES and o["side"] == exit_side]
        # A held leg of a bracket whose entry has not filled covers nothing yet.
        cover = sum(Decimal(o["qty"]) - Decimal(o["filled_qty"] or 0) for o in stops
                    if not _leg_of_unfilled_entry(o, orders))
        if qty and cover < abs(qty):
            problems.append(f"{symbol}: position {qty} covered by stops for only {cover}")
        if cover > abs(qty):
            problems.append(f"{symbol}: stops for {cover} over a position of {qty}")
    return problems


def _leg_of_unfilled_entry(order: dict[str, Any], orders: list[dict[str, Any]]) -> bool:
    parent = next((p for p in orders if p["id"] == order.get("parent_id")), None)
    return (parent is not None and parent["order_class"] in ("bracket", "oto")
            and parent["status"] != "filled")


def assert_books_hold(db: TradingDB, db_params: dict[str, Any], exchange: PaperExchange,
                      settings: Settings) -> dict[str, int]:
    """The invariant checker passes and the exchange's own counts agree; the counts."""
    broker = AlpacaBroker(settings, budget=RequestBudget(100_000))
    report = run_check(db_params, broker, settings, now=exchange.venue.clock.now)
    violations = [f"{f.invariant}: {f.message}" for f in report.findings
                  if f.severity == VIOLATION]
    assert not violations, "invariant checker failed:\n" + "\n".join(violations)
    problems = exchange_findings(exchange)
    assert not problems, "at the exchange:\n" + "\n".join(problems)
    decisions = db.query("analysis_decision")
    for d in decisions:
        assert d["executed"] is True, f"decision #{d['id']} not terminal"
        assert len(db.query("decision_outcome", {"analysis_decision_id": d["id"]})) == 1
    positions = [p for p in exchange.control.state()["positions"] if Decimal(p["qty"])]
    return {"decisions": len(decisions), "broker_orders": len(exchange.control.orders()),
            "positions": len(positions), "warnings": report.count("WARNING")}
