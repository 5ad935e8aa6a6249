"""The commands a user types: executor CLI in test mode, migrate, scheduler listing."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
import pytz

from tests.conftest import exchange_env
from tests.helpers import add_decision, entry, outcome
from trading_monitor.cli import dispatch as cli
from trading_monitor.cli import migrate
from trading_monitor.domain.pnl import realized_pnl, unrealized_pnl
from trading_monitor.order_executor import __main__ as order_executor
from trading_monitor.settings.config import load_settings


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for key in list(os.environ):
        if key.startswith(("ALPACA_", "POSTGRES_", "TEST_POSTGRES", "TEST_DATABASE", "DATABASE_")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return monkeypatch


def test_executor_test_mode_on_a_fresh_machine(clean_env, capsys):
    """Embedded PostgreSQL, in-process exchange, the example decisions: one full cycle."""
    assert order_executor.main(["--test-mode"]) == 0
    out = capsys.readouterr().out
    assert "embedded throwaway PostgreSQL" in out and "in-process paper exchange" in out
    assert "#1     AAPL   EXECUTED  submitted buy 10 AAPL" in out
    assert "#3     NVDA   REJECTED  malformed decision: NEW_TRADE needs stop_loss" in out
    assert "executed=5 rejected=1" in out


def test_executor_test_mode_uses_the_configured_test_database(clean_env, db, db_params,
                                                               exchange, capsys):
    for key, value in exchange_env(exchange).items():
        clean_env.setenv(key, value)
    clean_env.setenv("TEST_DATABASE_URL", f"postgresql://{db_params['user']}@{db_params['host']}"
                                          f":{db_params['port']}/{db_params['dbname']}")
    d = add_decision(db, entry())
    assert order_executor.main(["--test-mode", "--dry-run"]) == 0
    assert "would submit buy 10 AAPL" in capsys.readouterr().out
    assert exchange.control.orders() == []
    assert order_executor.main(["--test-mode"]) == 0
    assert outcome(db, d)["terminal_state"] == "EXECUTED"


def test_executor_production_mode_needs_keys(clean_env, capsys):
    assert order_executor.main([]) == 2
    err = capsys.readouterr().err
    assert "ALPACA_API_KEY" in err and "ALPACA_SECRET_KEY" in err


def test_executor_reports_an_unreachable_database_as_temporary(clean_env, exchange, capsys):
    for key, value in exchange_env(exchange).items():
        clean_env.setenv(key, value)
    clean_env.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    assert order_executor.main([]) == 3
    assert "temporary failure" in capsys.readouterr().err


def test_executor_bad_keys_are_fatal_and_recorded(clean_env, db, db_params, capsys):
    from trading_monitor.paper_exchange import PaperExchange

    with PaperExchange(api_key="right", secret_key="right", clock_mode="stepped").start() as ex:
        for key, value in exchange_env(ex).items():
            clean_env.setenv(key, value)
        clean_env.setenv("DATABASE_URL", f"postgresql://{db_params['user']}@{db_params['host']}"
                                         f":{db_params['port']}/{db_params['dbname']}")
        add_decision(db, entry())
        assert order_executor.main([]) == 1
    assert "refused the API keys" in capsys.readouterr().err
    [job] = db.query("job_run")
    assert job["status"] == "FAILED" and "401" in job["error"]
    assert db.query("decision_outcome") == []  # nothing lost: still pending


def test_migrate_test_mode_embedded(clean_env, capsys):
    assert migrate.main(["--test-mode"]) == 0
    out = capsys.readouterr().out
    assert "applied migrations: 0001, 0002, 0003, 0004, 0005, 0006, 0007, 0008, 0009" in out
    assert "trade_journal" in out and "decision_outcome" in out
    tables = next(line for line in out.splitlines() if line.startswith("tables: "))
    views = next(line for line in out.splitlines() if line.startswith("views: "))
    assert "v_trade_lifecycle" not in tables and "trade_journal" in tables
    assert views == "views: v_daily_pnl, v_open_positions, v_trade_lifecycle"


def test_migrate_against_configured_database_is_idempotent(clean_env, db_params, capsys):
    clean_env.setenv("DATABASE_URL", f"postgresql://{db_params['user']}@{db_params['host']}"
                                     f":{db_params['port']}/{db_params['dbname']}")
    assert cli.main(["migrate"]) == 0
    assert "none (up to date)" in capsys.readouterr().out


def test_cli_help_and_unknown_command(capsys):
    assert cli.main(["--help"]) == 0
    assert "paper-exchange" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        cli.main(["frobnicate"])
    assert info.value.code == 2


def test_console_script_and_module_entry_points(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA", "POSTGRES"))}
    result = subprocess.run([sys.executable, "-m", "trading_monitor.order_executor", "--help"],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 0 and "--test-mode" in result.stdout


def test_the_daemon_lists_its_jobs_at_the_configured_times(exchange):
    from trading_monitor.broker.alpaca import AlpacaBroker
    from trading_monitor.daemon.app import JOB_DEFAULTS, Daemon

    settings = load_settings(exchange_env(exchange, EXECUTOR_TIME="09:50"), need_broker=True)
    daemon = Daemon(settings, {}, AlpacaBroker(settings), now=exchange.venue.clock.now)
    saturday = pytz.timezone("America/New_York").localize(datetime(2026, 11, 21, 12, 0))
    lines = {line.split(":")[0]: line for line in daemon.describe(saturday)}
    assert "2026-11-23 09:50 EST" in lines["order_executor"]
    # and after the close, to withdraw DAY entries that went out as GTC brackets
    assert "2026-11-23 16:05 EST" in lines["order_executor_close"]
    assert "2026-11-23 09:30 EST" in lines["order_monitor"]
    assert JOB_DEFAULTS["max_instances"] == 1 and JOB_DEFAULTS["coalesce"] is True


def test_pnl_long_and_short():
    assert realized_pnl("buy", Decimal("100"), Decimal("94.50"), Decimal("10")) == Decimal("-55.00")
    assert realized_pnl("sell", Decimal("100"), Decimal("94.50"), Decimal("10")) == Decimal("55.00")
    assert unrealized_pnl("short", Decimal("50"), Decimal("55"), Decimal("-4")) == Decimal("-20")


def test_test_mode_refuses_a_test_database_that_is_production(clean_env, db_params, capsys):
    url = (f"postgresql://{db_params['user']}@{db_params['host']}:{db_params['port']}/"
           f"{db_params['dbname']}")
    clean_env.setenv("DATABASE_URL", url)
    clean_env.setenv("TEST_DATABASE_URL", url)
    assert order_executor.main(["--test-mode"]) == 2
    assert "is the production database" in capsys.readouterr().err


def test_seed_style_client_factories_read_the_settings(clean_env, exchange):
    from trading_monitor.broker.alpaca import get_data_client, get_trading_client

    for key, value in exchange_env(exchange).items():
        clean_env.setenv(key, value)
    assert get_trading_client().get_clock()["is_open"] is True  # raw JSON: we read it
    assert get_data_client()._base_url == exchange.url


@pytest.mark.parametrize("argv", [["-m", "trading_monitor.cli", "status"],
                                  ["-m", "trading_monitor.cli", "check"],
                                  ["scripts/create_production_tables.py", "--dry-run"]])
def test_first_contact_says_what_to_set_up_never_retry_later(tmp_path, argv):
    if argv[0].endswith(".py"):
        argv = [str(Path(__file__).resolve().parents[2] / argv[0]), *argv[1:]]
    done = subprocess.run([sys.executable, *argv],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          check=False, env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    assert done.returncode == 2, done.stderr
    assert "retry later" not in done.stderr and "Traceback" not in done.stderr
    assert "Copy .env.example to .env" in done.stderr and "DATABASE_URL" in done.stderr
    assert "--no-broker" in done.stderr and "trading-monitor demo" in done.stderr


@pytest.mark.parametrize("name", sorted(cli.SUBCOMMANDS))
def test_every_command_names_itself_and_its_exit_codes(name, capsys):
    """`trading-monitor X --help` says `usage: trading-monitor X` and what its exit codes
    mean (a script or a monitoring system acts on them)."""
    with pytest.raises(SystemExit) if name != "psql" else contextlib.nullcontext():
        cli.main([name, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert text.startswith(f"usage: trading-monitor {name}"), text[:80]
    assert re.search(r"\bexits?\b(\s+codes?)?[^.]{0,40}\d", text, re.I), text[-400:]


def test_apschedulers_per_run_lines_are_debug_and_matplotlib_is_quiet():
    import logging

    from trading_monitor.daemon.logs import configure_logging

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging("INFO", "text", [])
        assert not logging.getLogger("apscheduler.executors.default").isEnabledFor(logging.INFO)
        assert logging.getLogger("apscheduler.scheduler").isEnabledFor(logging.WARNING)
        assert not logging.getLogger("matplotlib.font_manager").isEnabledFor(logging.INFO)
        assert len(root.handlers) == 1
        configure_logging("DEBUG", "text", [])
        assert logging.getLogger("apscheduler.executors.default").isEnabledFor(logging.DEBUG)
        assert len(root.handlers) == 1  # configured twice, still one handler
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.getLogger("apscheduler").setLevel(logging.NOTSET)


def test_a_skipped_or_missed_run_is_said_once_by_the_daemon_not_again_by_apscheduler(caplog):
    import logging

    from trading_monitor.daemon.logs import quiet_libraries

    quiet_libraries("INFO")
    try:
        with caplog.at_level(logging.WARNING):
            logging.getLogger("apscheduler.scheduler").warning(
                'Execution of job "%s" skipped: maximum number of running instances reached '
                "(%d)", "election", 1)
            logging.getLogger("apscheduler.executors.default").warning(
                'Run time of job "%s" was missed by %s', "order_monitor", "0:00:05")
            logging.getLogger("apscheduler.scheduler").warning("Scheduler has been shut down")
        assert [r.getMessage() for r in caplog.records] == ["Scheduler has been shut down"]
    finally:
        logging.getLogger("apscheduler").setLevel(logging.NOTSET)
