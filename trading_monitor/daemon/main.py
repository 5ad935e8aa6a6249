"""`python scheduler.py` and `trading-monitor run`: start the daemon (or `--list` its jobs).

Exit 0 after a clean shutdown (SIGTERM or SIGINT: the running job finishes first); 1 when it
cannot start (bad keys, the schema not current: run `trading-monitor migrate`); 2 for a bad
configuration, and when the broker's keys lead to another account than the books' (the error
names both ids; systemd does not restart on 2: docs/operations.md).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.cli.common import EXIT_OK, handles_errors
from trading_monitor.clock import Clock, job_clock, system_clock
from trading_monitor.daemon.app import Daemon
from trading_monitor.daemon.halt_stream import with_halt_stream
from trading_monitor.daemon.logs import configure_logging
from trading_monitor.db import migrate
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.params import get_postgres_config
from trading_monitor.exceptions import FatalError
from trading_monitor.ledger.alerts import AlertHandler, Alerts
from trading_monitor.order_monitor.listener import OrderStreamListener
from trading_monitor.report.deliver import url_secrets
from trading_monitor.settings.config import Settings, load_settings
from trading_monitor.web.server import check_bind, serve

log = logging.getLogger("trading_monitor.daemon")


def check_schema(db_config: dict[str, Any]) -> None:
    with TradingDB(config=db_config) as db:
        pending = migrate.pending_migrations(db.connection, production=True)
    if pending:
        names = ", ".join(f"{m.version}_{m.name}" for m in pending)
        raise FatalError(f"the database schema is not current (missing {names}): run "
                         "`trading-monitor migrate` (or scripts/create_production_tables.py "
                         "for NocoDB production), then start the daemon again")


def _secrets(settings: Settings) -> list[str]:
    values = [settings.alpaca_api_key, settings.alpaca_secret_key, settings.postgres_password,
              settings.cockpit_token]
    found = [v.get_secret_value() for v in values if v is not None]
    # Each URL setting is hidden whole, URL by URL, and by the password inside each URL.
    for urls in (settings.database_url, settings.alert_urls, settings.report_urls,
                 settings.notify_urls, settings.heartbeat_url):
        found += url_secrets(urls.get_secret_value() if urls else None)
    return found


def build_daemon(settings: Settings, db_config: dict[str, Any], **kw: Any) -> Daemon:
    """With CLOCK_SOURCE=broker the broker's clock is read once, here: the jobs' clock is
    that moment carried forward by the machine's monotonic clock, and the schedule fires on
    it too (its lead on the machine's clock), so the real scheduler runs a paper exchange's
    simulated day in real time (docs/paper-validation.md, the rehearsal)."""
    broker = AlpacaBroker(settings)
    offset = None
    if settings.clock_source.value == "broker":
        now, offset = broker_time_base(broker.get_clock().timestamp)
    else:
        now = job_clock(settings.clock_source.value, broker)
    return Daemon(settings, db_config, broker, now=now, listener_factory=lambda: (
        with_halt_stream(OrderStreamListener(db_config, broker, settings, now=now), db_config,
                         settings, now)), schedule_offset=offset, **kw)


def broker_time_base(broker_now: datetime) -> tuple[Clock, timedelta]:
    """A clock from one reading of the broker's time, and its lead on the machine's."""
    mono, machine = time.monotonic(), system_clock()

    def now() -> datetime:
        return broker_now + timedelta(seconds=time.monotonic() - mono)
    return now, broker_now - machine


def _alerts(settings: Settings, db_config: dict[str, Any]) -> None:
    urls = settings.alert_urls.get_secret_value().split(",") if settings.alert_urls else []
    db = TradingDB(config=db_config, application_name="trading-monitor alerts")
    alerts = Alerts(db, [u.strip() for u in urls if u.strip()],
                    min_interval=timedelta(minutes=settings.alert_min_interval_minutes))
    logging.getLogger().addHandler(AlertHandler(alerts))


@handles_errors
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="trading-monitor run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list", action="store_true", help="print the jobs and exit")
    args = parser.parse_args(argv)
    settings = load_settings(need_broker=True)
    configure_logging(settings.log_level, settings.log_format, _secrets(settings))
    db_config = get_postgres_config(settings=settings)
    fast = float(settings.daemon_fast_seconds) if settings.daemon_fast_seconds else None
    if args.list:
        daemon = build_daemon(settings, db_config, fast_seconds=fast)
        print("\n".join(daemon.describe()))
        return EXIT_OK
    check_bind(settings)  # the cockpit never listens on the network without a token
    check_schema(db_config)
    _alerts(settings, db_config)
    daemon = build_daemon(settings, db_config, fast_seconds=fast)
    cockpit = serve(daemon)  # leader and standby alike; a busy port only warns

    def stop(signum: int, _frame: object) -> None:
        log.info("signal %s: finishing the running job, then stopping", signum)
        threading.Thread(target=daemon.stop, name="shutdown", daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("trading-monitor daemon starting (%s)", "paper" if settings.alpaca_paper
             else "LIVE")
    try:
        daemon.run()
    finally:
        if cockpit is not None:
            cockpit.stop()
    log.info("trading-monitor daemon stopped")
    if daemon.exit_code is not None:
        print(f"trading-monitor: {daemon.exit_reason}", file=sys.stderr)
        return daemon.exit_code
    return EXIT_OK
