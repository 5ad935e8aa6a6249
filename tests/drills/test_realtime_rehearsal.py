"""Issue 28: rehearsing a trading day in real time on the paper exchange.

With CLOCK_SOURCE=broker the daemon's real scheduler fires on the exchange's clock (its cron
triggers shifted by the exchange's lead on the machine), so a simulated 09:45 runs the 09:45
jobs. The exchange's realtime clock can leave a partial fill resting, so the partial-entry
timeout can be rehearsed too.

The fast tests check the shifted schedule and the resting partial fill; the slow one
(`--slow -m slow`, skipped otherwise) runs the documented commands of
docs/paper-validation.md (read from the page, only the port changed) for about 12 minutes.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import pytz

from tests.conftest import exchange_env
from tests.helpers import add_decision, entry
from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.transport import RequestBudget
from trading_monitor.clock import system_clock
from trading_monitor.daemon.main import build_daemon
from trading_monitor.daemon.schedule import ShiftedTrigger, job_specs
from trading_monitor.paper_exchange import PaperExchange
from trading_monitor.settings.config import load_settings

NY = pytz.timezone("America/New_York")
ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "trading-monitor")  # the console script


def wait_for(condition, seconds: float):
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {seconds}s"
        time.sleep(0.1)


def test_a_shifted_trigger_fires_on_the_exchanges_clock():
    settings = load_settings({"ALPACA_API_KEY": "k", "ALPACA_SECRET_KEY": "s"})
    spec = next(s for s in job_specs(settings) if s.job_id == "order_monitor")
    lead = timedelta(days=3, hours=2, minutes=7)  # the exchange is ahead of the machine
    trigger = ShiftedTrigger(spec.trigger, lead)
    machine = NY.localize(datetime(2026, 11, 17, 7, 40))  # exchange: Fri 20th 09:47
    due = trigger.get_next_fire_time(None, machine)
    assert (due + lead).astimezone(NY) == NY.localize(datetime(2026, 11, 20, 9, 50))
    after = trigger.get_next_fire_time(due, due + timedelta(seconds=1))
    assert after - due == timedelta(minutes=5)


def test_the_daemon_runs_its_scheduled_jobs_on_a_realtime_exchanges_clock(db_params):
    start = NY.localize(datetime(2026, 11, 20, 9, 44, 56))  # 4 s before 09:45 on the exchange
    with PaperExchange(seed=1, start=start, clock_mode="realtime",
                       rate_limit_per_min=None).start() as ex:
        ex.control.set_prices({"AAPL": "180.00"})
        settings = load_settings(exchange_env(ex), need_broker=True)  # CLOCK_SOURCE=broker
        daemon = build_daemon(settings, db_params)
        assert daemon.schedule_offset is not None
        assert abs(daemon.schedule_offset - (start - system_clock())) < timedelta(seconds=5)
        listed = "\n".join(daemon.describe())
        assert "order_executor: order executor, from EXECUTOR_TIME every 2 minutes (next " \
               "2026-11-20 09:45 EST)" in listed, listed
        thread = threading.Thread(target=daemon.run, daemon=True)
        thread.start()
        try:
            from trading_monitor.db.connection import TradingDB

            due = NY.localize(datetime(2026, 11, 20, 9, 45))
            with TradingDB(config=db_params) as db:
                # (A woken `cancels` cycle before 09:45 is an order_executor run too.)
                runs = wait_for(lambda: [r for r in db.query("job_run", {
                    "job_name": "order_executor"}) if r["status"] == "SUCCEEDED"
                    and r["started_at"] >= due], 30)
        finally:
            daemon.stop()
            thread.join(30)
    # The scheduled 09:45 run, on the exchange's clock, not the machine's.
    at = runs[0]["started_at"].astimezone(NY)
    assert at < due + timedelta(seconds=10), at


def test_a_realtime_exchange_can_leave_a_partial_fill_resting():
    start = NY.localize(datetime(2026, 11, 20, 10, 0))
    with PaperExchange(seed=1, start=start, clock_mode="realtime",
                       rate_limit_per_min=None).start() as ex:
        ex.control.set_prices({"MSFT": "420.00"})
        ex.control.set_partial_fill("MSFT", "0.5", rest=True)
        settings = load_settings(exchange_env(ex), need_broker=True)
        broker = AlpacaBroker(settings, budget=RequestBudget(100_000))
        from trading_monitor.broker.models import OrderRequest

        order = broker.submit_order(OrderRequest(
            symbol="MSFT", side="buy", qty=Decimal(10), order_type="limit",
            time_in_force="day", limit_price=Decimal("421.00"), client_order_id="rest-1"))

        def seen():
            found = broker.get_order(order.id)
            return found if found is not None and found.filled_qty > 0 else None

        first = wait_for(seen, 10)
        assert first.filled_qty == 5 and first.status == "partially_filled"
        clock = broker.get_clock().timestamp
        wait_for(lambda: broker.get_clock().timestamp - clock > timedelta(seconds=2), 10)
        ex.control.set_prices({"MSFT": "420.50"})  # time passed and the price moved
        still = broker.get_order(order.id)
        assert still is not None and (still.filled_qty, still.status) == (5, "partially_filled")
        ex.control.set_partial_fill("MSFT", None)  # cleared: the remainder may fill
        done = wait_for(lambda: (o := broker.get_order(order.id)) is not None
                        and o.status == "filled" and o, 10)
        assert done.filled_qty == 10


# -- the documented rehearsal, in real time ----------------------------------------------------

DOC = ROOT / "docs" / "paper-validation.md"
DOC_PORT = "8765"  # the documented port; the test's exchange takes a free one


def documented_commands() -> tuple[list[str], dict[str, str], list[str]]:
    """The two commands of docs/paper-validation.md "Rehearsing a session in real time", as
    a reader pastes them: the exchange's argv, then the daemon's environment and argv."""
    section = DOC.read_text().split("## Rehearsing a session in real time", 1)[1]
    blocks = re.findall(r"```bash skip\n(.*?)```", section.split("\n## ", 1)[0], re.S)
    exchange, daemon = (shlex.split(b.replace("\\\n", " ")) for b in blocks[:2])
    env = dict(w.split("=", 1) for w in daemon if re.match(r"[A-Z_]+=", w))
    return exchange, env, [w for w in daemon if w not in {f"{k}={v}" for k, v in env.items()}]


def test_the_rehearsal_commands_are_documented_whole():
    exchange, env, daemon = documented_commands()
    assert exchange[:2] == ["trading-monitor", "paper-exchange"] and DOC_PORT in exchange
    assert env["CLOCK_SOURCE"] == "broker" and daemon == ["trading-monitor", "run"]
    assert all(DOC_PORT in env[k] for k in ("ALPACA_BASE_URL", "ALPACA_DATA_URL",
                                            "ALPACA_STREAM_URL"))
    start = exchange[exchange.index("--start") + 1]
    assert datetime.fromisoformat(start).astimezone(NY) == NY.localize(
        datetime(2026, 11, 20, 9, 43, 30))  # what the slow test's checks count from


def _exchange_process(tmp_path: Path) -> tuple[subprocess.Popen, str]:
    out = (tmp_path / "exchange.log").open("wb")
    argv, _, _ = documented_commands()
    argv = [CLI, *argv[1:]]
    argv[argv.index("--port") + 1] = "0"  # a free port, read from its first line
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    log = tmp_path / "exchange.log"
    url = wait_for(lambda: (m := re.search(r"serving (http://\S+)", log.read_text())) and
                   m.group(1), 30)
    return proc, url


@pytest.mark.slow
@pytest.mark.timeout(0)  # twelve minutes of real time: beyond the default tier's limit
def test_a_documented_rehearsal_of_twelve_minutes_in_real_time(db, db_params, tmp_path,
                                                                request):
    """The commands of docs/paper-validation.md "Rehearsing a session in real time": the
    exchange from 09:43:30, the daemon with CLOCK_SOURCE=broker, until 09:55:20. Twelve
    minutes of wall time: only with `--slow` (the slow tier), never in a default run."""
    if not request.config.getoption("--slow"):
        pytest.skip("a 12-minute real-time rehearsal: run it with `pytest --slow -m slow "
                    "tests/drills/test_realtime_rehearsal.py --no-cov -s`")
    from trading_monitor.paper_exchange.control_client import ExchangeControl

    exchange, url = _exchange_process(tmp_path)
    daemon = None
    try:
        control = ExchangeControl(url)
        control.set_prices({"AAPL": "180.00", "MSFT": "420.00"})
        control.set_partial_fill("MSFT", "0.5", rest=True)  # the partial entry rests
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA", "POSTGRES"))}
        # The documented daemon command, word for word but for the exchange's port; its own
        # database (DATABASE_URL) and report folder as the doc asks.
        _, documented, argv = documented_commands()
        port = url.rsplit(":", 1)[1]
        env.update({k: v.replace(f":{DOC_PORT}", f":{port}") for k, v in documented.items()})
        env.update({"REPORT_DIR": str(tmp_path / "reports"),
                    "DATABASE_URL": f"postgresql://{db_params['user']}@{db_params['host']}:"
                                    f"{db_params['port']}/{db_params['dbname']}"})
        log = tmp_path / "daemon.log"
        with log.open("wb") as out:
            daemon = subprocess.Popen([CLI, *argv[1:]],
                                      env=env, cwd=tmp_path, stdout=out,
                                      stderr=subprocess.STDOUT)
        aapl = add_decision(db, entry(entry_price="181.00", stop_loss="175.00",
                                      take_profit="195.00"))
        msft = add_decision(db, entry("MSFT", entry_price="421.00", stop_loss="410.00",
                                      take_profit="440.00"))

        watcher = AlpacaBroker(load_settings(env, need_broker=True),
                               budget=RequestBudget(100_000))

        def exchange_now() -> datetime:
            return watcher.get_clock().timestamp

        end = datetime.fromisoformat("2026-11-20T09:55:20-05:00")
        while exchange_now() < end:  # the session runs on its own; we only watch
            assert daemon.poll() is None, log.read_text()[-3000:]
            time.sleep(5)
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(60) == 0, log.read_text()[-3000:]
        _report_the_rehearsal(db, aapl, msft, log)
    finally:
        for proc in (daemon, exchange):
            if proc is not None and proc.poll() is None:
                proc.kill()


def _report_the_rehearsal(db, aapl: int, msft: int, log: Path) -> None:
    runs = sorted((r for r in db.query("job_run") if r["status"] in ("SUCCEEDED", "PARTIAL")),
                  key=lambda r: r["started_at"])
    fired = {}
    for r in runs:
        fired.setdefault(r["job_name"], []).append(r["started_at"].astimezone(NY))
    print("\nrehearsal job runs (exchange time):")
    for name, times in sorted(fired.items()):
        print(f"  {name}: " + ", ".join(f"{t:%H:%M:%S}" for t in times))
    # The scheduled runs on the exchange's clock: the order monitor at 09:45, 09:50, 09:55,
    # the position monitor at 09:50; each within seconds after its minute.
    for name, minutes in (("order_monitor", (45, 50, 55)), ("position_monitor", (50,))):
        for minute in minutes:
            due = NY.localize(datetime(2026, 11, 20, 9, minute))
            assert any(due <= t < due + timedelta(seconds=20) for t in fired[name]), (
                name, minute, fired[name])
    # No entry before EXECUTOR_TIME (09:45) on the exchange's clock.
    orders = db.query("order_execution")
    entries = [o for o in orders if o["order_role"] == "ENTRY"]
    assert len(entries) == 2
    assert all(o["created_at"].astimezone(NY) >= NY.localize(datetime(2026, 11, 20, 9, 45))
               for o in entries), [o["created_at"] for o in entries]
    outcomes = {o["analysis_decision_id"]: o for o in db.query("decision_outcome")}
    assert outcomes[aapl]["terminal_state"] == "EXECUTED"
    assert outcomes[msft]["terminal_state"] == "EXECUTED"
    aapl_trade = db.get_by_id("trade_journal", outcomes[aapl]["trade_journal_id"])
    msft_trade = db.get_by_id("trade_journal", outcomes[msft]["trade_journal_id"])
    assert aapl_trade["status"] == "POSITION" and aapl_trade["protected_at"] is not None
    # The partial entry: 5 of 10 filled, the rest withdrawn after the partial-entry timeout
    # (120 s) by a scheduled order-monitor run, and the 5 shares protected.
    [msft_entry] = [o for o in entries if o["symbol"] == "MSFT"]
    assert (msft_entry["filled_qty"], msft_entry["order_status"]) == (5, "canceled")
    assert msft_trade["status"] == "POSITION" and msft_trade["actual_qty"] == 5
    stops = [o for o in orders if o["trade_journal_id"] == msft_trade["id"]
             and o["order_role"] == "STOP_LOSS" and o["order_status"] in ("new", "accepted",
                                                                         "held")]
    assert sum(o["qty"] for o in stops) == 5
    print(f"  AAPL trade #{aapl_trade['id']} protected at "
          f"{aapl_trade['protected_at'].astimezone(NY):%H:%M:%S}; MSFT trade "
          f"#{msft_trade['id']}: 5 of 10 filled, rest withdrawn at "
          f"{msft_entry['updated_at'].astimezone(NY):%H:%M:%S}, 5 protected")
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]
    assert datetime.now(timezone.utc)  # (the run's wall-clock length is the test's, ~12 min)
