"""A throwaway PostgreSQL server (testing.postgresql) for tests and `--test-mode`.

PostgreSQL refuses to run as root, and CI runs as root. So when we are root, the server
binaries run through small wrapper scripts that `exec setpriv` into the `postgres` user:
exec keeps the pid, so testing.postgresql's signals still reach the server.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import tempfile
from typing import Any

from trading_monitor.exceptions import FatalError

WRAPPER = """#!/bin/sh
cd /
exec setpriv --reuid={uid} --regid={gid} --init-groups -- {binary} "$@"
"""


def find_pg_bindir() -> str:
    """The directory holding initdb and postgres (newest Debian layout first, then PATH)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    candidates += [os.path.dirname(p) for p in filter(None, [shutil.which("initdb")])]
    candidates += ["/usr/local/pgsql/bin", "/opt/homebrew/bin", "/usr/local/bin"]
    for folder in candidates:
        if os.access(os.path.join(folder, "initdb"), os.X_OK) and os.access(
            os.path.join(folder, "postgres"), os.X_OK
        ):
            return folder
    raise FatalError(
        "PostgreSQL server binaries (initdb, postgres) not found; install PostgreSQL "
        "(e.g. apt-get install postgresql) or set TEST_DATABASE_URL"
    )


def _unprivileged_user() -> pwd.struct_passwd:
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise FatalError("running as root needs a 'postgres' (or 'nobody') user to run PostgreSQL")


class EmbeddedPostgres:
    """Start with `start()`, read `params` (libpq keyword arguments), `stop()` removes it all."""

    def __init__(self) -> None:
        self.base_dir = ""
        self._server: Any = None

    def start(self) -> EmbeddedPostgres:
        try:
            import testing.postgresql
        except ImportError:
            raise FatalError(
                "an embedded PostgreSQL needs the dev extra: pip install -e '.[dev]'"
            ) from None
        bindir = find_pg_bindir()
        self.base_dir = tempfile.mkdtemp(prefix="trading-monitor-pg-")
        initdb = os.path.join(bindir, "initdb")
        postgres = os.path.join(bindir, "postgres")
        if os.geteuid() == 0:
            initdb, postgres = self._prepare_for_root(initdb, postgres)
        try:
            self._server = testing.postgresql.Postgresql(
                base_dir=self.base_dir,
                initdb=initdb,
                postgres=postgres,
                postgres_args="-h 127.0.0.1 -F -c logging_collector=off -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            )
        except Exception:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            raise
        return self

    def _prepare_for_root(self, initdb: str, postgres: str) -> tuple[str, str]:
        user = _unprivileged_user()
        os.chmod(self.base_dir, 0o755)
        for sub in ("data", "tmp"):
            path = os.path.join(self.base_dir, sub)
            os.mkdir(path, 0o700)
            os.chown(path, user.pw_uid, user.pw_gid)
        bindir = os.path.join(self.base_dir, "bin")
        os.mkdir(bindir, 0o755)
        wrappers = []
        for binary in (initdb, postgres):
            wrapper = os.path.join(bindir, os.path.basename(binary))
            with open(wrapper, "w", encoding="utf-8") as fh:
                fh.write(WRAPPER.format(uid=user.pw_uid, gid=user.pw_gid, binary=binary))
            os.chmod(wrapper, 0o755)
            wrappers.append(wrapper)
        return wrappers[0], wrappers[1]

    @property
    def params(self) -> dict[str, Any]:
        dsn = self._server.dsn()
        return {"host": dsn["host"], "port": dsn["port"], "user": dsn["user"],
                "dbname": dsn["database"], "password": ""}

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self.base_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = ""

    def __enter__(self) -> EmbeddedPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
