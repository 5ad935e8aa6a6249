"""Operations commands against the real database and paper exchange: status, the kill switch,
resume, and the health check's exit code for every failure it looks for."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import exchange_env
from tests.helpers import (
    add_decision,
    entry,
    exchange_now,
    orders_at_broker,
    outcome,
)
from trading_monitor.cli import dispatch as cli
from trading_monitor.cli import health, kill_switch, operator, status
from trading_monitor.clock import fixed_clock, system_clock

D = Decimal
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for key in list(os.environ):
        if key.startswith(("ALPACA_", "POSTGRES_", "TEST_POSTGRES", "TEST_DATABASE", "DATABASE_",
                           "TRADING_HALTED", "MAX_")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return monkeypatch


def _url(db_params) -> str:
    return (f"postgresql://{db_params['user']}@{db_params['host']}:{db_params['port']}/"
            f"{db_params['dbname']}")


@pytest.fixture
def cli_env(clean_env, db_params, exchange):
    """The CLI's environment: the test database and the paper exchange."""
    for key, value in exchange_env(exchange).items():
        clean_env.setenv(key, value)
    clean_env.setenv("DATABASE_URL", _url(db_params))
    return clean_env


def _beat(db, at: datetime, role: str = "leader", pid: int = 4242, paused: str | None = None):
    db.insert("daemon_heartbeat", {"host": "box", "pid": pid, "role": role, "started_at": at,
                                   "beat_at": at, "trading_paused": paused})


def _job(db, name: str, status_: str, error: str | None = None, run_id: str | None = None):
    db.execute_update(
        "INSERT INTO job_run (run_id, job_name, status, finished_at, error) "
        "VALUES (%s, %s, %s, now(), %s)", [run_id or f"{name}-{status_}", name, status_, error])


# -- status ---------------------------------------------------------------------------------


def test_status_shows_the_book_as_text_and_json(cli_env, db, jobs, capsys):
    jid = jobs.position(db)
    db.execute_update("UPDATE position_tracking SET unrealized_pnl = 12.50, mark_stale = true")
    db.insert("trade_journal", {"symbol": "MSFT", "side": "buy", "trade_style": "DAYTRADE",
                                "protection_mode": "bracket", "status": "CLOSED",
                                "actual_pnl": D("-40.25"),
                                "exit_date": datetime(2026, 11, 20, 16, 0, tzinfo=timezone.utc)})
    db.insert("trade_journal", {"symbol": "NVDA", "side": "buy", "trade_style": "DAYTRADE",
                                "protection_mode": "bracket", "status": "CLOSED",
                                "actual_pnl": D("99"),  # yesterday in New York: not today
                                "exit_date": datetime(2026, 11, 20, 4, 59, tzinfo=timezone.utc)})
    _beat(db, exchange_now())
    assert status.main(["--json"], now=exchange_now) == 0
    report = json.loads(capsys.readouterr().out)
    [trade] = report["open_trades"]
    assert (trade["id"], trade["symbol"], trade["status"], trade["qty"]) == (
        jid, "AAPL", "POSITION", "10")
    assert (trade["stop_price"], trade["unrealized_pnl"], trade["mark_stale"]) == (
        "175.00", "12.50", True)
    assert report["pnl_today"]["trading_day"] == "2026-11-20"
    assert (report["pnl_today"]["realised"], report["pnl_today"]["total"]) == ("-40.25",
                                                                               "-27.75")
    jobs = {j["job_name"]: j["status"] for j in report["jobs"]}
    assert jobs == {"order_executor": "SUCCEEDED", "order_monitor": "SUCCEEDED"}
    assert {h["key"] for h in report["halts"]} == {
        "TRADING_HALTED", "kill_switch", "halt_reconciliation", "halt_daily_loss",
        "halt_drawdown"}
    assert report["leader"]["host"] == "box" and report["daemons"][0]["stale"] is False

    assert status.main([], now=exchange_now) == 0
    text = capsys.readouterr().out
    for expected in ("Open trades", "AAPL", "POSITION", "175.00", "12.50", "-40.25",
                     "order_monitor", "SUCCEEDED", "kill_switch", "leader: box pid 4242"):
        assert expected in text, expected


def test_status_through_the_cli_is_read_only_and_needs_no_broker(clean_env, db, db_params,
                                                                   capsys):
    clean_env.setenv("DATABASE_URL", _url(db_params))  # no Alpaca keys at all
    _beat(db, system_clock() - timedelta(minutes=10), role="standby")
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert "none" in out and "leader: none" in out and "yes" in out  # the stale standby
    with pytest.raises(SystemExit) as info:
        cli.main(["status", "--help"])
    assert info.value.code == 0


# -- kill switch and resume -----------------------------------------------------------------


def test_kill_switch_cancels_a_resting_entry_and_keeps_protection(cli_env, db, jobs,
                                                                    broker, exchange,
                                                                    capsys):
    held = jobs.position(db, "MSFT", take_profit="440.00")
    resting = add_decision(db, entry())  # 175 below a market of 180: rests
    jobs.executor()
    coid = outcome(db, resting)["client_order_id"]
    assert kill_switch.main(["--reason", "FOMC surprise"], now=exchange_now) == 0
    out = capsys.readouterr().out
    assert "kill switch ON" in out and f"cancelled entry {coid}" in out
    [order] = [o for o in exchange.control.orders() if o["client_order_id"] == coid]
    assert order["status"] == "canceled"
    live = {"new", "held", "accepted"}
    msft = [o for o in exchange.control.orders() if o["symbol"] == "MSFT"
            and o["status"] in live]
    assert len(msft) == 2, msft  # the position's stop and target are kept
    assert [(p.symbol, p.qty) for p in broker.get_positions()] == [("MSFT", D(10))]
    assert db.get_by_id("trade_journal", outcome(db, resting)["trade_journal_id"])[
        "status"] == "CANCELLED"
    assert db.get_by_id("trade_journal", held)["status"] == "POSITION"
    [switch] = db.named("system_value", {"key": "kill_switch"})
    assert switch["value"] == "on" and "FOMC surprise" in switch["reason"]
    events = db.query("event_log", {"entity": "system_state"})
    assert {e["event"] for e in events} == {"halt_set", "kill_switch"}
    assert all(" by " in e["message"] and "FOMC surprise" in e["message"] for e in events)
    late = add_decision(db, entry("NVDA", entry_price="129.00", stop_loss="125.00",
                                  take_profit="140.00"))
    jobs.executor()
    assert "kill switch is on" in outcome(db, late)["reason"]


def test_kill_switch_flatten_closes_every_position(cli_env, db, jobs, broker,
                                                   exchange, capsys):
    bracket = jobs.position(db)
    staged = jobs.with_settings(PROTECTION_MODE="staged", BLOCK_DUPLICATE_ENTRY="false")
    oco = staged.position(db, "MSFT", take_profit="440.00")
    assert cli.main(["kill-switch", "--flatten", "--reason", "drill"]) == 0
    out = capsys.readouterr().out
    assert "KILL_SWITCH: sold 10 at market" in out and "PROBLEM" not in out, out
    assert broker.get_positions() == []
    for jid in (bracket, oco):
        journal = db.get_by_id("trade_journal", jid)
        assert (journal["status"], journal["exit_reason_code"]) == ("CLOSED", "KILL_SWITCH")
    assert [o for o in exchange.control.orders() if o["status"] in {"new", "held"}] == []


def test_kill_switch_flatten_after_the_close_says_the_exit_waits(cli_env, db, jobs, exchange,
                                                                 capsys):
    jobs.position(db)
    exchange.control.set_clock(datetime(2026, 11, 20, 22, 0, tzinfo=timezone.utc))  # 17:00
    assert kill_switch.main(["--flatten", "--reason", "late"], now=exchange_now) == 3
    out = capsys.readouterr().out
    assert "not filled yet" in out and "PROBLEM still held at the broker: 10 AAPL" in out, out
    [exit_order] = [o for o in exchange.control.orders() if o["client_order_id"].endswith(
        "-exit")]
    assert exit_order["status"] in {"new", "accepted"}


def test_kill_switch_waits_for_the_brokers_final_word(cli_env, db, jobs, exchange, capsys):
    d = add_decision(db, entry())
    jobs.executor()
    coid = outcome(db, d)["client_order_id"]
    exchange.control.set_cancel_behavior("refuse", client_order_id=coid)
    assert kill_switch.main(["--reason", "drill"], now=exchange_now) == 3  # run it again
    out = capsys.readouterr().out
    assert "kill switch ON" in out and f"PROBLEM entry {coid}" in out and "not final" in out
    assert db.named("system_value", {"key": "kill_switch"})[0]["value"] == "on"
    assert db.get_by_id("trade_journal", outcome(db, d)["trade_journal_id"])[
        "status"] == "PENDING"  # the broker still holds the order: never booked as gone
    exchange.control.set_cancel_behavior("immediate")
    assert kill_switch.main(["--reason", "drill"], now=exchange_now) == 0
    assert "it was already on" in capsys.readouterr().out
    assert orders_at_broker(exchange, coid)[0]["status"] == "canceled"


def test_kill_switch_needs_a_reason(cli_env, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["kill-switch"])
    assert info.value.code == 2 and "--reason" in capsys.readouterr().err


def test_resume_clears_the_switch_and_halts_but_not_the_daily_loss(cli_env, db, capsys):
    assert kill_switch.main(["--reason", "test"], now=exchange_now) == 0
    for key, value in (("halt_drawdown", "on"), ("halt_reconciliation", "on"),
                       ("halt_daily_loss", "2026-11-20")):
        db.named_update("set_system_value", {"key": key, "value": value, "reason": "seeded"})
    capsys.readouterr()
    assert operator.resume(["--reason", "all clear"], now=exchange_now) == 0
    out = capsys.readouterr().out
    assert "cleared: kill_switch, halt_reconciliation, halt_drawdown" in out
    assert "clears itself the next trading day (ACTIVE today" in out
    values = {k: db.named("system_value", {"key": k})[0]["value"]
              for k in ("kill_switch", "halt_drawdown", "halt_daily_loss")}
    assert values == {"kill_switch": "", "halt_drawdown": "", "halt_daily_loss": "2026-11-20"}
    cleared = [e for e in db.query("event_log", {"event": "halt_cleared"})]
    assert len(cleared) == 3 and all("all clear" in e["message"] for e in cleared)
    assert cli.main(["resume-entries"]) == 0  # the old name still works, without --reason
    assert "none of kill_switch" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["resume"])  # the new one wants a reason


# -- health ---------------------------------------------------------------------------------


def _healthy(db, now: datetime) -> None:
    _beat(db, now - timedelta(seconds=30))
    _job(db, "order_monitor", "SUCCEEDED")


def _health(capsys, *args: str, now=system_clock) -> tuple[int, str]:
    code = health.main(list(args), now=now)
    return code, capsys.readouterr().out.strip()


def test_health_ok_with_a_protected_position(cli_env, db, jobs, capsys):
    jobs.position(db)
    _healthy(db, system_clock())
    code, out = _health(capsys)
    assert code == 0, out
    assert out.startswith("OK: 16 checks passed (database, schema, broker, broker_shapes, "
                          "heartbeat")
    code, out = _health(capsys, "--json")
    report = json.loads(out)
    assert report["status"] == "OK" and report["exit_code"] == 0
    assert [c["name"] for c in report["checks"]] == [
        "database", "schema", "broker", "broker_shapes", "heartbeat", "jobs", "intents",
        "protection", "reconciliation", "broker_contract", "halts", "symbol_halts", "account",
        "incident", "invariants", "messages"]


def test_health_database_unreachable_is_critical(cli_env, capsys):
    cli_env.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    code, out = _health(capsys, "--no-broker")
    assert code == 2 and out.startswith("CRITICAL: database unreachable (cannot connect"), out


def test_health_schema_behind_is_critical_but_dev_migrations_are_optional(cli_env, db, capsys):
    _healthy(db, system_clock())
    db.execute_update("DELETE FROM schema_migrations WHERE version = '0001'")  # dev-only
    code, out = _health(capsys, "--no-broker")
    assert code == 0, out
    db.execute_update("DELETE FROM schema_migrations WHERE version = '0008'")
    code, out = _health(capsys, "--no-broker")
    assert code == 2 and out == ("CRITICAL: schema behind: migration 0008 not applied "
                                 "(run `trading-monitor migrate`)")


def test_health_refused_keys_are_critical(cli_env, db, capsys):
    from trading_monitor.paper_exchange import PaperExchange

    _healthy(db, system_clock())
    with PaperExchange(api_key="right", secret_key="right", clock_mode="stepped").start() as ex:
        for key, value in exchange_env(ex).items():
            cli_env.setenv(key, value)
        code, out = _health(capsys)
    assert code == 2 and out.startswith("CRITICAL: broker refused the API keys (401)"), out


def test_health_unreachable_broker_is_critical_and_can_be_skipped(cli_env, db, capsys):
    _healthy(db, system_clock())
    cli_env.setenv("ALPACA_BASE_URL", "http://127.0.0.1:1")
    code, out = _health(capsys)
    assert code == 2 and out.startswith("CRITICAL: broker unreachable"), out
    code, out = _health(capsys, "--no-broker")
    assert code == 0 and "broker" not in out.split("(")[1].rstrip(")").split(", "), out


def test_health_stale_heartbeat_is_critical(cli_env, db, capsys):
    now = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)
    _beat(db, now - timedelta(minutes=7))
    code, out = _health(capsys, "--no-broker", now=fixed_clock(now))
    assert (code, out) == (2, "CRITICAL: heartbeat stale (last 7 min ago)")
    code, out = _health(capsys, "--no-broker", now=fixed_clock(now - timedelta(minutes=5)))
    assert code == 0, out  # two minutes old at that moment: fresh


def test_health_no_leader_is_critical(cli_env, db, capsys):
    _beat(db, system_clock(), role="standby")
    code, out = _health(capsys, "--no-broker")
    assert (code, out) == (2, "CRITICAL: no leader (1 daemon(s) beating, none of them leader)")


def test_health_trading_paused_on_the_leader_is_critical(cli_env, db, capsys):
    _beat(db, system_clock(), paused="order_executor: broker refused the API keys (401)")
    code, out = _health(capsys, "--no-broker")
    assert (code, out) == (2, "CRITICAL: trading paused on the leader box pid 4242: "
                              "order_executor: broker refused the API keys (401)")


def test_health_a_failed_job_is_critical_and_a_partial_one_a_warning(cli_env, db, capsys):
    _healthy(db, system_clock())
    _job(db, "order_executor", "PARTIAL")
    code, out = _health(capsys, "--no-broker")
    assert code == 1 and re.fullmatch(r"WARNING: order_executor PARTIAL \d s ago", out), out
    db.execute_update("UPDATE job_run SET started_at = now() - interval '1 hour'")
    _job(db, "order_monitor", "FAILED", "TemporaryError: broker\ntimed out", run_id="om-2")
    code, out = _health(capsys, "--no-broker")  # one passing fault: a warning (issue 28)
    assert code == 1 and "order_monitor failed once" in out, out
    _job(db, "order_monitor", "FAILED", "TemporaryError: broker\ntimed out", run_id="om-3")
    code, out = _health(capsys, "--no-broker")
    assert code == 2 and re.fullmatch(
        r"CRITICAL: order_executor PARTIAL \d s ago; "
        r"order_monitor FAILED \d s ago: TemporaryError: broker timed out", out), out


def test_health_an_intent_unsent_for_five_minutes_is_critical(cli_env, db, capsys):
    from tests.helpers import write_test_intent

    _healthy(db, system_clock())
    d = add_decision(db, entry())
    intent = write_test_intent(db, d)
    code, out = _health(capsys, "--no-broker")
    assert code == 0, out  # just written
    db.execute_update("UPDATE order_execution SET created_at = now() - interval '6 minutes'")
    code, out = _health(capsys, "--no-broker")
    assert code == 2
    assert out.startswith("CRITICAL: 3 intents pending_submit for over 5 min (oldest 6 min: "
                          f"{intent.client_order_id}"), out


def test_health_an_unprotected_position_is_critical(cli_env, db, jobs, capsys):
    jid = jobs.position(db)
    _healthy(db, system_clock())
    db.execute_update("UPDATE order_execution SET order_status = 'canceled' "
                      "WHERE order_role = 'STOP_LOSS'")
    code, out = _health(capsys, "--no-broker")
    assert (code, out) == (2, f"CRITICAL: 1 unprotected position (trade #{jid} AAPL)")
    db.execute_update("UPDATE order_execution SET order_status = 'held', qty = 4 "
                      "WHERE order_role = 'STOP_LOSS'")
    code, out = _health(capsys, "--no-broker")
    assert (code, out) == (2, f"CRITICAL: 1 unprotected position (trade #{jid} AAPL: stop "
                              "covers 4 of 10)")


def test_health_a_failed_reconciliation_is_critical(cli_env, db, capsys):
    _healthy(db, system_clock())
    db.named_update("set_system_value", {"key": "reconciliation_status", "value": "FAIL",
                                         "reason": "run-1"})
    db.insert("reconciliation_issue", {"issue_key": "untracked:TSLA", "kind": "UNTRACKED",
                                       "symbol": "TSLA", "first_seen_at": system_clock()})
    code, out = _health(capsys, "--no-broker")
    assert (code, out) == (2, "CRITICAL: reconciliation FAIL (UNTRACKED TSLA)")


def test_health_an_active_halt_is_a_warning(cli_env, db, capsys):
    _healthy(db, system_clock())
    assert kill_switch.main(["--reason", "FOMC"], now=exchange_now) == 0
    capsys.readouterr()
    code, out = _health(capsys, "--no-broker")
    assert code == 1 and out.startswith("WARNING: entries halted: kill_switch (by "), out
    assert out.endswith(": FOMC)")


def test_health_a_bad_configuration_is_unknown(cli_env, capsys):
    cli_env.setenv("MAX_OPEN_POSITIONS", "many")
    code, out = _health(capsys)
    assert code == 3 and out.startswith("UNKNOWN: cannot read the configuration: "
                                        "MAX_OPEN_POSITIONS"), out
    cli_env.delenv("ALPACA_API_KEY")
    cli_env.delenv("MAX_OPEN_POSITIONS")
    code, out = _health(capsys)  # the broker check needs keys; --no-broker does not
    assert code == 3 and "ALPACA_API_KEY: is required" in out


def test_health_check_script_is_a_nagios_plugin(clean_env, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA", "POSTGRES"))}
    env["MAX_OPEN_POSITIONS"] = "many"
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "health_check.py")],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 3 and result.stdout.startswith("UNKNOWN: "), result
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "health_check.py"),
                             "--bogus"], capture_output=True, text=True, env=env, cwd=tmp_path,
                            timeout=60)
    assert result.returncode == 3


def test_every_command_has_help(capsys):
    for name in ("run", "status", "kill-switch", "resume", "resume-entries", "health",
                 "approve-exit", "migrate", "execute", "monitor-orders", "monitor-positions"):
        with pytest.raises(SystemExit) as info:
            cli.main([name, "--help"])
        assert info.value.code == 0, name
        assert "usage: " in capsys.readouterr().out, name


def test_health_verbose_and_json_when_unknown(cli_env, db, capsys):
    _healthy(db, system_clock())
    code, out = _health(capsys, "--no-broker", "-v")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 15 and lines[1] == "  [OK] database: database reachable"
    cli_env.setenv("MAX_OPEN_POSITIONS", "many")
    code, out = _health(capsys, "--json")
    assert code == 3 and json.loads(out)["status"] == "UNKNOWN"


def test_approve_exit_of_a_trade_without_a_position_is_refused(cli_env, db, capsys):
    assert cli.main(["approve-exit", "999"]) == 4
    assert "has no open position" in capsys.readouterr().out


@pytest.mark.parametrize("state", ["down", "unsupported"])
def test_health_warns_while_the_leaders_listen_connection_is_not_up(cli_env, db, capsys,
                                                                    state):
    """Issue 24: decisions still go out on the schedule's poll, but a person should know."""
    _healthy(db, system_clock())
    db.execute_update("UPDATE daemon_heartbeat SET notify_listener = %s", [state])
    code, out = _health(capsys, "--no-broker")
    assert code == 1 and "its LISTEN connection is " + state in out, out
    db.execute_update("UPDATE daemon_heartbeat SET notify_listener = 'up'")
    assert _health(capsys, "--no-broker")[0] == 0
