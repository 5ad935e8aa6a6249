"""Settings: every problem named by variable, no secret ever echoed."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import time
from decimal import Decimal

import pytest

from trading_monitor.db.params import get_postgres_config
from trading_monitor.db.session import KEEPALIVES, connection_defaults
from trading_monitor.exceptions import ConfigError
from trading_monitor.settings.config import load_settings

KEYS = {"ALPACA_API_KEY": "PKSECRETKEYID123", "ALPACA_SECRET_KEY": "s3cr3t-value-xyz"}


def test_defaults_are_paper_and_safe() -> None:
    s = load_settings({})
    assert s.alpaca_paper is True
    assert s.is_live is False
    assert s.protection_mode.value == "bracket"
    assert s.executor_time == time(9, 45)
    assert s.max_notional_per_order == Decimal("25000")


def test_every_problem_is_listed_by_variable_name() -> None:
    env = {"ALPACA_PAPER": "maybe", "POSTGRES_PORT": "not-a-port", "MAX_OPEN_POSITIONS": "-1",
           "PROTECTION_MODE": "hope", "EXECUTOR_TIME": "25:99", "LOG_LEVEL": "LOUD",
           "MAX_NOTIONAL_PER_ORDER": "lots", "BROKER_TIMEOUT_SECONDS": "0"}
    with pytest.raises(ConfigError) as info:
        load_settings(env, need_broker=True)
    message = str(info.value)
    for name in [*env, "ALPACA_API_KEY", "ALPACA_SECRET_KEY"]:
        assert name in message, name
    for value in ("maybe", "not-a-port", "hope", "25:99", "LOUD", "lots"):
        assert value not in message


def test_missing_keys_only_when_broker_needed() -> None:
    load_settings({})
    with pytest.raises(ConfigError) as info:
        load_settings({"ALPACA_API_KEY": "  "}, need_broker=True)
    assert info.value.problems == [
        "ALPACA_API_KEY: is required to reach the broker",
        "ALPACA_SECRET_KEY: is required to reach the broker",
    ]


def test_live_needs_explicit_confirmation() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({**KEYS, "ALPACA_PAPER": "false"}, need_broker=True)
    assert "ALPACA_LIVE_TRADING_CONFIRMED" in str(info.value)
    live = load_settings({**KEYS, "ALPACA_PAPER": "false", "ALPACA_LIVE_TRADING_CONFIRMED": "yes"})
    assert live.is_live


def test_secrets_never_in_repr_or_str() -> None:
    s = load_settings({**KEYS, "POSTGRES_PASSWORD": "pg-pass-999",
                       "DATABASE_URL": "postgresql://u:url-pass-777@h/db"})
    for text in (repr(s), str(s), str(s.model_dump())):
        for secret in ("PKSECRETKEYID123", "s3cr3t-value-xyz", "pg-pass-999", "url-pass-777"):
            assert secret not in text


def test_limits_can_be_switched_off() -> None:
    s = load_settings({"MAX_DAILY_LOSS": "off", "MAX_OPEN_POSITIONS": ""})
    assert s.max_daily_loss is None and s.max_open_positions is None


def test_connections_skip_kerberos_unless_asked(monkeypatch) -> None:
    """libpq's Kerberos probe on every TCP connect once crashed a CI worker inside connect
    (db/session.py): off by default; PGGSSENCMODE or the connection settings bring it back."""
    monkeypatch.delenv("PGGSSENCMODE", raising=False)
    assert connection_defaults() == {**KEEPALIVES, "gssencmode": "disable"}
    s = load_settings({"DATABASE_URL": "postgresql://a:b@h:1234/prod?gssencmode=require"})
    assert get_postgres_config(settings=s)["gssencmode"] == "require"
    monkeypatch.setenv("PGGSSENCMODE", "prefer")
    assert "gssencmode" not in connection_defaults()
    s = load_settings({"DATABASE_URL": "postgresql://a:b@h:1234/prod"})
    assert "gssencmode" not in get_postgres_config(settings=s)


def test_postgres_config_from_parts_and_url(monkeypatch) -> None:
    monkeypatch.delenv("PGGSSENCMODE", raising=False)
    s = load_settings({"POSTGRES_HOST": "db.local", "POSTGRES_PORT": "6543", "POSTGRES_DB": "noco",
                       "POSTGRES_USER": "noco", "POSTGRES_PASSWORD": "pw"})
    assert get_postgres_config(settings=s) == {
        "host": "db.local", "port": 6543, "dbname": "noco", "user": "noco", "password": "pw",
        **connection_defaults(), "options": "-c statement_timeout=30000 -c lock_timeout=10000"}
    s = load_settings({"DATABASE_URL": "postgresql://a:b@h:1234/prod",
                       "TEST_DATABASE_URL": "postgresql://t@localhost:5555/tdb"})
    assert get_postgres_config(settings=s)["dbname"] == "prod"
    assert get_postgres_config(test_mode=True, settings=s) == {
        "user": "t", "host": "localhost", "port": "5555", "dbname": "tdb", **connection_defaults(),
        "options": "-c statement_timeout=30000 -c lock_timeout=10000"}
    s = load_settings({"TEST_POSTGRES_HOST": "th", "TEST_POSTGRES_DB": "tt"})
    assert get_postgres_config(test_mode=True, settings=s)["host"] == "th"


def test_dotenv_file_is_read_and_environment_wins(tmp_path, monkeypatch) -> None:
    (tmp_path / ".env").write_text("MAX_OPEN_POSITIONS=3\nLOG_LEVEL=DEBUG\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    s = load_settings()
    assert s.max_open_positions == 3
    assert s.log_level == "WARNING"


def test_cli_config_error_exits_2_without_traceback(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA", "POSTGRES"))}
    env.update({"POSTGRES_PORT": "nope", "ALPACA_PAPER": "perhaps"})
    result = subprocess.run(
        [sys.executable, "-m", "trading_monitor.cli", "migrate"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert "POSTGRES_PORT" in result.stderr and "ALPACA_PAPER" in result.stderr
    assert "Traceback" not in result.stderr


def test_paper_refuses_the_live_api_url() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({**KEYS, "ALPACA_BASE_URL": "https://api.alpaca.markets"})
    assert "ALPACA_BASE_URL: points at Alpaca's live API" in str(info.value)
    load_settings({**KEYS, "ALPACA_BASE_URL": "https://paper-api.alpaca.markets"})


def test_the_placeholder_keys_of_env_example_are_refused_before_any_request(tmp_path) -> None:
    """Copying .env.example and forgetting the keys says so, naming both; no request."""
    from pathlib import Path

    example = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    env = dict(line.split("=", 1) for line in example.splitlines()
               if line and not line.startswith("#") and "=" in line)
    with pytest.raises(ConfigError) as caught:
        load_settings(env, need_broker=True)
    text = str(caught.value)
    assert "ALPACA_API_KEY: still the placeholder from .env.example" in text
    assert "ALPACA_SECRET_KEY: still the placeholder from .env.example" in text
    done = subprocess.run([sys.executable, "-m", "trading_monitor.cli", "execute"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
                          env={"PATH": os.environ["PATH"], "HOME": str(tmp_path),
                               **{k: v for k, v in env.items() if k.startswith("ALPACA_")},
                               "ALPACA_BASE_URL": "http://127.0.0.1:9"})
    assert done.returncode == 2 and "still the placeholder" in done.stderr
