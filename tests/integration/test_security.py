"""Security checks: secrets never leave, SQL identifiers are whitelisted, live trading needs
its two settings, the paper exchange stays on loopback, a shared `.env` is warned about.

Everything runs for real: the CLI commands in-process and the daemon as a process, against
the paper exchange and a real database, with distinctive key values that are then searched
for in every output, log line, database row and repr.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg2 import sql

from tests.conftest import exchange_env
from tests.helpers import add_decision, entry
from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.stream import TradeUpdateStream
from trading_monitor.cli.dispatch import main as cli
from trading_monitor.db.connection import TradingDB
from trading_monitor.exceptions import ConfigError, FatalError, UnknownSchemaError
from trading_monitor.paper_exchange import PaperExchange
from trading_monitor.settings.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
DB_PASSWORD = "dbpw-SECRET-5521"
SECRET_ENV = {
    "ALPACA_API_KEY": "PKSECRETKEY7Q3Z",
    "ALPACA_SECRET_KEY": "sk-SECRET-9b8c7d6e",
    "POSTGRES_PASSWORD": "pgpw-SECRET-8842",
    "TEST_POSTGRES_PASSWORD": "testpw-SECRET-1177",
    "ALERT_URLS": "json://alertuser:alertpw-SECRET-3307@127.0.0.1:9/hook",
    "REPORT_URLS": "json://repuser:reportpw-SECRET-6619@127.0.0.1:9/report",
}
# The values, and the parts of them a careless message would show (a URL's password).
NEEDLES = [*list(SECRET_ENV.values())[:4], DB_PASSWORD, "alertpw-SECRET-3307",
           "reportpw-SECRET-6619", "SECRET-", "KEY7Q3Z"]


def leaks(text: str) -> list[str]:
    return [n for n in NEEDLES if n in text]


def database_url(params: dict[str, Any], password: str = DB_PASSWORD) -> str:
    # The test server trusts local connections: the password is sent and ignored.
    return (f"postgresql://{params['user']}:{password}@{params['host']}:{params['port']}/"
            f"{params['dbname']}")


def dump_database(db: TradingDB) -> str:
    """Every row of every table, as text: job_run errors, event_log, alerts, outcomes."""
    tables = [r["tablename"] for r in db.execute_query(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    parts = []
    for table in tables:  # names from the catalog, quoted: this is the test, not the code
        rows = db.execute_query(sql.SQL("SELECT row_to_json(t)::text AS j FROM {} t").format(
            sql.Identifier(table)))
        parts.extend(r["j"] for r in rows)
    return "\n".join(parts)


class Capture:
    """Runs CLI commands in-process with an environment; keeps everything they print or log."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                 caplog: pytest.LogCaptureFixture):
        self.monkeypatch, self.capsys, self.caplog = monkeypatch, capsys, caplog
        self.texts: list[str] = []
        self.codes: dict[str, int | str] = {}

    def env(self, values: dict[str, str]) -> None:
        for name in [*Settings.model_fields, *(f.alias for f in Settings.model_fields.values())]:
            self.monkeypatch.delenv(str(name), raising=False)
        for name, value in values.items():
            self.monkeypatch.setenv(name, value)

    def run(self, label: str, *argv: str) -> int | str:
        try:
            code: int | str = cli(list(argv))
        except BaseException as exc:  # an escaped exception is output too (its traceback)
            import traceback

            code = f"raised {type(exc).__name__}"
            self.texts.append("".join(traceback.format_exception(exc)))
        out = self.capsys.readouterr()
        self.texts += [out.out, out.err]
        self.codes[label] = code
        return code

    def all_text(self) -> str:
        return "\n".join(self.texts + [self.caplog.text] + [
            r.getMessage() + str(r.args) for r in self.caplog.records])


@pytest.fixture
def capture(monkeypatch, capsys, caplog, tmp_path) -> Capture:
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.DEBUG)
    return Capture(monkeypatch, capsys, caplog)


@contextlib.contextmanager
def locked_exchange() -> Iterator[PaperExchange]:
    """An exchange that knows other keys: every request of ours is answered 401."""
    with PaperExchange(seed=1, api_key="PKSOMEONEELSE", secret_key="not-ours",
                       rate_limit_per_min=None).start() as ex:
        yield ex


def daemon_output(db_params: dict[str, Any], ex: PaperExchange, tmp_path: Path,
                  until: Callable[[str], bool], **extra: str) -> str:
    """The daemon as a process, JSON logs at DEBUG, until its output shows `until` (bounded
    at 120 s: a loaded machine starts it slowly); all it printed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA", "POSTGRES"))}
    env.update(exchange_env(ex, **SECRET_ENV, DAEMON_FAST_SECONDS="0.5", LOG_FORMAT="json",
                            LOG_LEVEL="DEBUG", **extra))
    env.update(DATABASE_URL=database_url(db_params), REPORT_DIR=str(tmp_path / "reports"),
               HOME=str(tmp_path))
    log = tmp_path / f"daemon-{time.monotonic_ns()}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, str(ROOT / "scheduler.py")], env=env,
                                cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while proc.poll() is None and time.monotonic() < deadline and not until(
                    log.read_text("utf-8", "replace")):
                time.sleep(0.2)
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return log.read_text("utf-8", "replace")


def _says_401(text: str) -> bool:
    return "401" in text or "not authorized" in text.lower()


# -- secrets ---------------------------------------------------------------------------------


def test_no_secret_in_any_output_log_row_or_repr(db, db_params, exchange, capture, tmp_path):
    good_env = {**exchange_env(exchange, **SECRET_ENV), "DATABASE_URL": database_url(db_params)}
    add_decision(db, entry())
    add_decision(db, entry("MSFT", stop_loss="430.00", entry_price="415.00",
                           take_profit="440.00"))  # rejected: stop above a buy's entry
    add_decision(db, {"ticker": "AAPL", "primary_action": "NEW_TRADE"})  # malformed

    # Success paths: every job, the read-only commands, an operator command.
    capture.env(good_env)
    for command in (["execute", "--dry-run"], ["execute"], ["monitor-orders"],
                    ["monitor-positions"], ["status"], ["health"], ["check"],
                    ["kill-switch", "--reason", "drill"], ["resume", "--reason", "drill"]):
        capture.run(" ".join(command), *command)
    assert capture.codes["execute"] == 0 and capture.codes["status"] == 0

    # The broker says 401 (keys not accepted).
    add_decision(db, entry("NVDA", entry_price="125.00", stop_loss="120.00",
                           take_profit="140.00"))
    with locked_exchange() as locked:
        capture.env({**exchange_env(locked, **SECRET_ENV), "DATABASE_URL": database_url(db_params)})
        for command in ("execute", "monitor-orders", "monitor-positions", "health", "check"):
            capture.run(f"{command} 401", command)
        assert capture.codes["execute 401"] == 1
        daemon_401 = daemon_output(db_params, locked, tmp_path, until=_says_401)

    # A bad configuration, with the secret itself malformed.
    capture.env({**good_env, "EXECUTOR_TIME": "25:00",
                 "ALPACA_SECRET_KEY": SECRET_ENV["ALPACA_SECRET_KEY"] + " pasted"})
    assert capture.run("bad config", "execute") == 2

    # Failures inside a job: the database away, the broker failing, the schema broken.
    capture.env({**good_env, "DATABASE_URL": database_url({**db_params, "port": 1})})
    assert capture.run("database away", "execute") == 3
    capture.run("database away status", "status")
    capture.env(good_env)
    exchange.control.set_fault("GET /v2/account", "http_status", status=500, count=50)
    add_decision(db, entry("AMD", entry_price="145.00", stop_loss="140.00",
                           take_profit="160.00"))
    capture.run("broker 500", "execute")  # every read answered 500: the decisions wait
    exchange.control.clear_faults()
    db.execute_update("ALTER TABLE decision_outcome RENAME COLUMN reason TO reason_gone")
    capture.run("schema broken", "execute")  # the AMD decision's outcome cannot be written
    db.execute_update("ALTER TABLE decision_outcome RENAME COLUMN reason_gone TO reason")

    # The daemon's JSON logs on the success path.
    add_decision(db, entry("TSLA", entry_price="245.00", stop_loss="240.00",
                           take_profit="260.00"))
    daemon_ok = daemon_output(db_params, exchange, tmp_path,
                              until=lambda text: "TSLA" in text and '"run_id"' in text)

    # Reprs of the objects that hold the keys.
    settings = load_settings({**good_env}, need_broker=True)
    broker = AlpacaBroker(settings)
    reprs = [repr(settings), str(settings), settings.model_dump_json(), repr(broker),
             repr(TradeUpdateStream(settings, lambda event: None, lambda: None)),
             repr(TradingDB(config={
                 "host": "h", "user": "u", "password": DB_PASSWORD, "dbname": "d"}))]

    everything = {"outputs and logs": capture.all_text(), "daemon 401": daemon_401,
                  "daemon": daemon_ok, "reprs": "\n".join(reprs),
                  "database": dump_database(db)}
    for where, text in everything.items():
        assert not leaks(text), f"{where} shows {leaks(text)}"
    # The runs did happen: the failures were seen and said.
    assert _says_401(daemon_401)
    assert '"run_id"' in daemon_ok
    assert capture.codes["bad config"] == 2 and "ALPACA_SECRET_KEY" in capture.all_text()


# -- SQL identifiers -------------------------------------------------------------------------

HOSTILE = ['analysis_decision"; DROP TABLE trade_journal; --', "pg_catalog.pg_authid",
           "trade_journal WHERE 1=1", "id; SELECT 1", "", "Trade_Journal", "x" * 200]


@pytest.mark.parametrize("name", HOSTILE)
def test_every_identifier_built_from_input_is_refused(db, name):
    """Every function that puts a name into SQL: TradingDB's (tables and columns from
    db.schema), the savepoint names, and nocodb-role's (role, policies, database, sequence)."""
    from trading_monitor.db import nocodb_verify as names

    attempts = [
        lambda: db.insert(name, {"ticker": "AAPL"}),
        lambda: db.insert("analysis_decision", {name: "AAPL"}),
        lambda: db.update(name, 1, {"ticker": "AAPL"}),
        lambda: db.update("analysis_decision", 1, {name: "AAPL"}),
        lambda: db.get_by_id(name, 1),
        lambda: db.query(name),
        lambda: db.query("analysis_decision", {name: 1}),
        lambda: db.query("analysis_decision", order_by=name),
    ]
    for attempt in attempts:
        with pytest.raises(UnknownSchemaError):
            attempt()
    with db.transaction(), pytest.raises(UnknownSchemaError):
        with db.savepoint(name):
            pass
    for attempt in (lambda: names.role_identifier(name),
                    lambda: names.policy_identifier(name, "insert"),
                    lambda: names.policy_identifier("ok_role", name)):
        with pytest.raises((ConfigError, ValueError)):
            attempt()
    if name == "Trade_Journal":  # a fine name for a database; only our tables are fixed
        return
    for attempt in (lambda: names.database_identifier(name),
                    lambda: names.sequence_identifier(("public", name)),
                    lambda: names.sequence_identifier((name, "analysis_decision_id_seq"))):
        with pytest.raises(FatalError):
            attempt()
    assert db.execute_query("SELECT count(*) AS n FROM trade_journal")[0]["n"] == 0  # intact


def test_nocodb_role_plan_refuses_a_hostile_role_and_catalog_names(db):
    from trading_monitor.cli.nocodb import plan

    facts = {"dbname": db.connection.info.dbname, "exists": False, "can_login": False,
             "me": "postgres", "decision_sequence": ("public", "analysis_decision_id_seq")}
    assert plan("trading_monitor_nocodb", facts, None, exit_approval=True)  # the normal case
    with pytest.raises(ConfigError):
        plan('nocodb"; DROP ROLE postgres; --', facts, None, exit_approval=False)
    with pytest.raises(FatalError):
        plan("trading_monitor_nocodb", {**facts, "dbname": 'x"; DROP DATABASE y; --'}, None,
             exit_approval=False)
    with pytest.raises(FatalError):
        plan("trading_monitor_nocodb", {**facts, "decision_sequence": (
            "public", 'seq"; GRANT ALL ON trade_journal TO PUBLIC; --')}, None,
            exit_approval=False)


SQL_IN_FSTRING = re.compile(r"""\bf(["']{1,3})[^"']*\b(SELECT|INSERT INTO|DELETE FROM|"""
                            r"""ALTER (TABLE|ROLE)|DROP|CREATE|GRANT|REVOKE|UPDATE \{)""")
REVIEWED = {  # files whose f-strings hold SQL words, and why each is safe
    "trading_monitor/db/nocodb_verify.py": "has_table_privilege over the fixed NOT_WRITABLE names",
    "trading_monitor/cli/production_tables.py": "the fixed UPDATED_AT_TRIGGER constant",
    "trading_monitor/cli/nocodb.py": "messages to the operator (ALTER ROLE, REVOKE hints), not run",
}


def test_sql_text_is_formatted_only_where_reviewed():
    """A scan of trading_monitor/: SQL is composed with psycopg2.sql and named queries; a file
    that puts SQL words in an f-string (or .format/% on SQL) must be in REVIEWED."""
    found = set()
    for path in sorted((ROOT / "trading_monitor").rglob("*.py")):
        text = path.read_text()
        name = str(path.relative_to(ROOT))
        if SQL_IN_FSTRING.search(text) or re.search(
                r"""(SELECT|INSERT|UPDATE|DELETE)[^"']*["']\s*(%|\.format\()""", text):
            found.add(name)
    assert found <= set(REVIEWED), sorted(found - set(REVIEWED))


# -- live trading needs both settings ---------------------------------------------------------

LIVE_UNCONFIRMED = [{"ALPACA_PAPER": "false"},
                    {"ALPACA_PAPER": "false", "ALPACA_LIVE_TRADING_CONFIRMED": "false"},
                    {"ALPACA_PAPER": "no", "ALPACA_LIVE_TRADING_CONFIRMED": "maybe"},
                    {"ALPACA_PAPER": "0", "ALPACA_LIVE_TRADING_CONFIRMED": ""}]


@pytest.mark.parametrize("live", LIVE_UNCONFIRMED, ids=lambda e: ",".join(e.values()))
@pytest.mark.parametrize("command", [["run"], ["execute"], ["monitor-orders"],
                                     ["monitor-positions"], ["execute", "--test-mode"],
                                     ["run", "--list"]])
def test_live_trading_refuses_to_start_without_confirmation(db_params, exchange, capture,
                                                            command, live):
    exchange.control.reset_counters()
    capture.env({**exchange_env(exchange, **SECRET_ENV), "DATABASE_URL": database_url(db_params),
                 **live})
    assert capture.run("live", *command) == 2
    assert "ALPACA_LIVE_TRADING_CONFIRMED" in capture.all_text()
    assert not any(exchange.control.counters().values())  # not one request reached a broker


def test_scheduler_py_refuses_live_trading_without_confirmation(db_params, exchange, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA", "POSTGRES"))}
    env.update(exchange_env(exchange, **SECRET_ENV, ALPACA_PAPER="false"))
    env["DATABASE_URL"] = database_url(db_params)
    exchange.control.reset_counters()
    done = subprocess.run([sys.executable, str(ROOT / "scheduler.py")], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "ALPACA_LIVE_TRADING_CONFIRMED" in done.stderr
    assert not leaks(done.stdout + done.stderr)
    assert not any(exchange.control.counters().values())


def test_paper_true_refuses_the_live_api_url_at_every_entry_point(capture, db_params):
    capture.env({**SECRET_ENV, "DATABASE_URL": database_url(db_params),
                 "ALPACA_BASE_URL": "https://api.alpaca.markets"})
    for command in ("run", "execute", "monitor-orders", "monitor-positions"):
        assert capture.run(command, command) == 2
    assert "ALPACA_BASE_URL: points at Alpaca's live API" in capture.all_text()


# -- the paper exchange listens on loopback only ---------------------------------------------


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of the sockets in LISTEN state on this port (from /proc/net)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as fh:
            for line in list(fh)[1:]:
                local, state = line.split()[1], line.split()[3]
                address, hex_port = local.split(":")
                if state == "0A" and int(hex_port, 16) == port:
                    found.add(address)
    return found


LOOPBACK_V4 = "0100007F"  # 127.0.0.1, little-endian hex as /proc/net/tcp writes it


def _other_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent for a UDP connect
        address = s.getsockname()[0]
        return None if address.startswith("127.") else address
    return None


def test_the_paper_exchange_defaults_to_loopback():
    from trading_monitor.paper_exchange.__main__ import _parser

    assert _parser().parse_args([]).host == "127.0.0.1"
    assert inspect.signature(PaperExchange).parameters["host"].default == "127.0.0.1"
    with PaperExchange(seed=1, port=0).start() as ex:
        assert _listening_addresses(ex.port) == {LOOPBACK_V4}
        other = _other_address()
        if other is not None:
            with pytest.raises(OSError), socket.create_connection((other, ex.port), timeout=2):
                pass


def test_the_paper_exchange_command_listens_on_loopback(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "trading_monitor.cli", "paper-exchange",
                             "--port", str(port)], cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not _listening_addresses(port) and time.monotonic() < deadline:
            assert proc.poll() is None, "the paper exchange exited"
            time.sleep(0.1)
        assert _listening_addresses(port) == {LOOPBACK_V4}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- a .env other users can read -------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o666, 0o660])
def test_a_shared_env_file_is_warned_about_without_its_contents(tmp_path, monkeypatch, caplog,
                                                               capsys, mode):
    from trading_monitor.settings import env_file as environment

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(environment, "_warned", set())  # once per process: fresh for the test
    env_file = tmp_path / ".env"
    env_file.write_text(f"ALPACA_SECRET_KEY={SECRET_ENV['ALPACA_SECRET_KEY']}\n"
                        f"POSTGRES_PASSWORD={SECRET_ENV['POSTGRES_PASSWORD']}\n")
    env_file.chmod(mode)
    with caplog.at_level(logging.WARNING):
        settings = load_settings()
        load_settings()  # said once, not at every read
    assert settings.alpaca_secret_key is not None  # the file was still read
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert str(env_file) in warnings[0] and f"chmod 600 {env_file}" in warnings[0]
    assert f"{mode:o}" in warnings[0]
    assert not leaks(caplog.text + capsys.readouterr().err)


def test_a_private_env_file_is_not_warned_about(tmp_path, monkeypatch, caplog):
    from trading_monitor.settings import env_file as environment

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(environment, "_warned", set())
    env_file = tmp_path / ".env"
    env_file.write_text("LOG_LEVEL=INFO\n")
    for mode in (0o600, 0o400):
        env_file.chmod(mode)
        with caplog.at_level(logging.WARNING):
            load_settings()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_cli_prints_the_warning_before_anything_else(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(f"ALPACA_API_KEY={SECRET_ENV['ALPACA_API_KEY']}\nEXECUTOR_TIME=25:00\n")
    env_file.chmod(0o644)
    done = subprocess.run([sys.executable, "-m", "trading_monitor.cli", "status"], cwd=tmp_path,
                          env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2  # the bad EXECUTOR_TIME, after the warning
    assert f"{env_file} can be read by other users" in done.stderr
    assert f"chmod 600 {env_file}" in done.stderr
    assert not leaks(done.stdout + done.stderr)
