"""The deployment files (deployment/), checked the way they are installed.

systemd units: rendered with real paths (a temporary install dir with a real
.venv/bin/python, scheduler.py and scripts/health_check.py), then `systemd-analyze verify`
must print nothing at all (it exits 0 on warnings such as an unknown key, so its output is the
verdict) and `systemd-analyze security --offline=true` must rate each service 1.5 or better
(1.1 today). Both work on unit files alone: no running systemd is needed (CI runs in a
container whose PID 1 is not systemd). Nothing here skips where systemd-analyze is installed,
except the security rating on a systemd older than 250 (no --offline).

The seccomp part of the units' sandbox (SystemCallFilter=, SystemCallErrorNumber=,
MemoryDenyWriteExecute=, RestrictAddressFamilies=) is rebuilt with libseccomp from the rendered
unit, and, as root, ProtectSystem=strict roughly (every mount read-only in a mount namespace of
its own). The daemon runs in it as systemd starts it (the unit's command line, working
directory and environment): READY=1 and WATCHDOG=1 arrive from the main process, SIGTERM exits
0, the health check and the alert unit's apprise run in it too. Not rebuilt: ProtectHome=,
PrivateUsers=, ProcSubset=, PrivateDevices= and the namespace, realtime, personality and
set-uid restrictions (nothing in the daemon asks for what they take away).

The macOS LaunchAgents are read with plistlib.
"""

from __future__ import annotations

import ast
import ctypes.util
import errno
import functools
import http.server
import json
import os
import plistlib
import re
import shlex
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import exchange_env

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENT = ROOT / "deployment"
PLACEHOLDER = "/opt/trading-monitor"
USER = "trading-monitor"
DAEMON = "trading-monitor.service"
HEALTH = "trading-monitor-health.service"
TIMER = "trading-monitor-health.timer"
ALERT = "trading-monitor-alert@.service"
SERVICES = (DAEMON, HEALTH, ALERT)
UNITS = (*SERVICES, TIMER)
AGENT = "com.trading.monitor.plist"
HEALTH_AGENT = "com.trading.monitor.health.plist"
MAX_EXPOSURE = 1.5  # systemd-analyze security, 0 (locked down) to 10 (unprotected)
# The job the daemon finishes on SIGTERM takes at most this long (docs/daemon.md).
LONGEST_JOB_SECONDS = 120

ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
LIBSECCOMP = ctypes.util.find_library("seccomp") if sys.platform == "linux" else None
needs_seccomp = pytest.mark.skipif(LIBSECCOMP is None, reason="needs Linux and libseccomp")


# --- unit files -----------------------------------------------------------------------------


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """Sections of a unit file, each key with all its values in order (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"a setting outside any section: {raw!r}"
        assert not line.endswith("\\"), f"no continuation lines, please: {raw!r}"
        key, sep, value = line.partition("=")
        assert sep, f"not a setting: {raw!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def shipped(name: str) -> str:
    return (DEPLOYMENT / name).read_text()


def unit(name: str, text: str | None = None) -> dict[str, dict[str, list[str]]]:
    return parse_unit(shipped(name) if text is None else text)


def last(sections: dict[str, dict[str, list[str]]], section: str, key: str) -> str:
    return sections[section][key][-1]


def sandbox_lines(text: str) -> list[str]:
    """The sandbox block of a service: every setting after its '# --- Sandbox.' comment."""
    block = text[text.index("# --- Sandbox."):text.index("[Install]") if "[Install]" in text
                 else len(text)]
    return [ln for ln in block.splitlines() if ln.strip() and not ln.startswith("#")]


def make_install(base: Path) -> Path:
    """A real install dir: .venv with this interpreter (and apprise), scheduler.py,
    scripts/health_check.py and a .env, as docs/production-deployment.md lays it out."""
    root = base / "trading-monitor"
    root.mkdir(parents=True)
    venv = Path(sys.prefix)
    in_venv = sys.prefix != sys.base_prefix
    if in_venv and all((venv / "bin" / name).exists() for name in ("python", "apprise")):
        (root / ".venv").symlink_to(venv, target_is_directory=True)  # keeps pyvenv.cfg
    else:
        bin_dir = root / ".venv" / "bin"
        bin_dir.mkdir(parents=True)
        (bin_dir / "python").symlink_to(sys.executable)
        apprise = shutil.which("apprise")  # the alert unit's command
        if apprise:
            (bin_dir / "apprise").symlink_to(apprise)
        else:  # a stand-in keeps verify meaningful
            (bin_dir / "apprise").write_text("#!/bin/sh\nexit 0\n")
            (bin_dir / "apprise").chmod(0o755)
    shutil.copy(ROOT / "scheduler.py", root / "scheduler.py")
    (root / "scripts").mkdir()
    health = ROOT / "scripts" / "health_check.py"
    if health.exists():
        shutil.copy(health, root / "scripts" / "health_check.py")
    else:
        (root / "scripts" / "health_check.py").write_text("raise SystemExit(3)\n")
    (root / ".env").write_text("ALPACA_API_KEY=x\nALPACA_SECRET_KEY=y\n")
    (root / ".env").chmod(0o600)
    return root


def render(name: str, install_dir: Path, out_dir: Path) -> Path:
    """The install step of docs/production-deployment.md: sed 's|/opt/trading-monitor|DIR|g'."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    path.write_text(shipped(name).replace(PLACEHOLDER, str(install_dir)))
    return path


@pytest.fixture
def install(tmp_path: Path) -> Path:
    return make_install(tmp_path / "opt")


@pytest.fixture
def rendered(install: Path, tmp_path: Path) -> dict[str, Path]:
    return {name: render(name, install, tmp_path / "units") for name in UNITS}


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    """systemd-analyze with its logging pinned: every notice and warning on stderr, no
    colours, no pager, whatever the environment says."""
    assert ANALYZE is not None
    env = {**os.environ, "SYSTEMD_LOG_LEVEL": "info", "SYSTEMD_LOG_TARGET": "console",
           "SYSTEMD_LOG_COLOR": "0", "SYSTEMD_COLORS": "0", "SYSTEMD_PAGER": "",
           "LC_ALL": "C"}
    return subprocess.run([ANALYZE, *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def verify(*paths: Path) -> str:
    """Everything `systemd-analyze verify` says about the units; '' is a clean bill."""
    result = analyze("--man=no", "--generators=no", "verify", *map(str, paths))
    said = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        said = f"exit {result.returncode}\n{said}"
    return said


def analyze_version() -> int:
    out = analyze("--version").stdout
    match = re.match(r"systemd (\d+)", out)
    assert match, out
    return int(match[1])


# --- what the units say ---------------------------------------------------------------------


@pytest.mark.parametrize("name", SERVICES)
def test_services_ship_the_placeholder_paths_only(name):
    settings = "\n".join(ln for ln in shipped(name).splitlines() if not ln.startswith("#"))
    paths = set(re.findall(r"(?<![\w/])/(?:opt|srv|home|Users|usr/local|var)/[\w./@-]*",
                           settings))
    assert paths, "no install path in the unit"
    assert all(p.startswith(PLACEHOLDER) for p in paths), paths


@pytest.mark.parametrize("name", SERVICES)
def test_services_run_as_the_dedicated_user_from_the_install_dir(name):
    u = unit(name)
    service = u["Service"]
    assert service["User"] == [USER] and service["Group"] == [USER]
    assert service["WorkingDirectory"] == [PLACEHOLDER]
    assert service["EnvironmentFile"] == [f"{PLACEHOLDER}/.env"]  # required: no "-" prefix
    assert last(u, "Service", "ExecStart").split()[0] == f"{PLACEHOLDER}/.venv/bin/" + (
        "apprise" if name == ALERT else "python")


def test_the_daemon_unit():
    u = unit(DAEMON)
    s = u["Service"]
    assert last(u, "Service", "ExecStart").split() == [
        f"{PLACEHOLDER}/.venv/bin/python", f"{PLACEHOLDER}/scheduler.py"]
    assert s["Type"] == ["notify"] and s["NotifyAccess"] == ["main"]
    assert s["WatchdogSec"] == ["90"]
    assert s["Restart"] == ["on-failure"] and 5 <= int(s["RestartSec"][-1]) <= 60
    assert s["RestartPreventExitStatus"] == ["2"]  # a configuration error: no restart loop
    assert s["KillSignal"] == ["SIGTERM"]
    assert int(s["TimeoutStopSec"][-1]) == 180 > LONGEST_JOB_SECONDS
    # The default start limit (5 starts in 10 s) must not be able to give up on the daemon:
    # 5 starts RestartSec apart span 4 intervals.
    assert "StartLimitIntervalSec" not in u["Unit"] and "StartLimitBurst" not in u["Unit"]
    assert int(s["RestartSec"][-1]) * 4 > 10
    assert u["Unit"]["OnFailure"] == ["trading-monitor-alert@%n.service"]
    assert "network-online.target" in u["Unit"]["After"][-1].split()
    assert u["Install"]["WantedBy"] == ["multi-user.target"]


def test_the_health_check_service_and_timer():
    u = unit(HEALTH)
    s = u["Service"]
    assert s["Type"] == ["oneshot"]
    assert last(u, "Service", "ExecStart").split() == [
        f"{PLACEHOLDER}/.venv/bin/python", f"{PLACEHOLDER}/scripts/health_check.py"]
    assert s["SuccessExitStatus"] == ["1"]  # WARNING is not a failure; 2 and 3 are
    assert "TimeoutStartSec" in s  # a oneshot has no start timeout by default
    assert u["Unit"]["OnFailure"] == ["trading-monitor-alert@%n.service"]
    t = unit(TIMER)
    assert t["Timer"]["Unit"] == [HEALTH] and (DEPLOYMENT / HEALTH).exists()
    assert t["Timer"]["Persistent"] == ["true"]
    assert t["Timer"]["OnCalendar"] == ["*:0/5"]
    assert t["Install"]["WantedBy"] == ["timers.target"]


def test_the_alert_unit_is_what_both_services_call_on_failure():
    u = unit(ALERT)
    assert u["Service"]["Type"] == ["oneshot"]
    command = last(u, "Service", "ExecStart")
    assert "${ALERT_URLS}" in command and "%i" in command
    assert u["Service"]["ExecStartPre"] == ['/usr/bin/test -n "${ALERT_URLS}"']
    assert "OnFailure" not in u["Unit"]  # no alert about the alert


def test_every_service_has_the_same_sandbox():
    daemon = sandbox_lines(shipped(DAEMON))
    for name in (HEALTH, ALERT):
        assert sandbox_lines(shipped(name)) == daemon, name
    keys = {ln.partition("=")[0] for ln in daemon}
    assert {"NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "StateDirectory",
            "LogsDirectory", "PrivateDevices", "ProtectKernelTunables", "ProtectKernelModules",
            "ProtectKernelLogs", "ProtectControlGroups", "RestrictNamespaces",
            "RestrictRealtime", "RestrictSUIDSGID", "LockPersonality",
            "MemoryDenyWriteExecute", "SystemCallArchitectures", "CapabilityBoundingSet",
            "RestrictAddressFamilies", "UMask", "SystemCallFilter"} <= keys
    u = unit(DAEMON)["Service"]
    assert u["ProtectSystem"] == ["strict"] and u["CapabilityBoundingSet"] == [""]
    assert u["RestrictAddressFamilies"] == ["AF_INET AF_INET6 AF_UNIX"]
    assert u["UMask"] == ["0077"]


def test_env_example_means_the_same_to_systemd_and_to_dotenv():
    """systemd's EnvironmentFile= keeps an inline '# comment' as part of the value and
    expands nothing; python-dotenv drops the comment and expands ${VAR}. The environment wins,
    so the daemon would see systemd's reading: .env.example must not need either."""
    for n, line in enumerate((ROOT / ".env.example").read_text().splitlines(), 1):
        assignment = re.match(r"#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if assignment:
            value = assignment[2]
            assert not re.search(r"\s#", value), f".env.example:{n}: inline comment"
            assert "${" not in value and not value.startswith(("'", '"')), f".env.example:{n}"


# --- systemd-analyze ------------------------------------------------------------------------


@needs_analyze
def test_systemd_analyze_verify_is_silent_on_the_rendered_units(rendered):
    assert verify(*rendered.values()) == ""


@needs_analyze
@pytest.mark.parametrize("name", UNITS)
def test_systemd_analyze_verify_is_silent_on_each_unit_alone(rendered, name):
    assert verify(rendered[name]) == ""


@needs_analyze
def test_verify_warnings_are_seen(rendered, tmp_path):
    """verify exits 0 on an unknown key, so the output is read; and it has to be printed."""
    broken = tmp_path / "broken" / DAEMON
    broken.parent.mkdir()
    broken.write_text(rendered[DAEMON].read_text().replace(
        "[Service]\n", "[Service]\nRestartForeverPlease=yes\n"))
    said = verify(broken)
    assert "Unknown key" in said and "RestartForeverPlease" in said, said
    nobody = tmp_path / "nobody" / DAEMON  # a notice, not a warning: it is seen as well
    nobody.parent.mkdir()
    nobody.write_text(rendered[DAEMON].read_text().replace(f"User={USER}", "User=nobody"))
    assert "Special user nobody configured" in verify(nobody)
    missing = tmp_path / "missing" / DAEMON
    missing.parent.mkdir()
    missing.write_text(shipped(DAEMON).replace(PLACEHOLDER, str(tmp_path / "nowhere")))
    assert "is not executable" in verify(missing)


@needs_analyze
@pytest.mark.parametrize("name", SERVICES)
def test_systemd_analyze_security_exposure(rendered, name):
    if analyze_version() < 250:
        pytest.skip("systemd-analyze security --offline needs systemd 250 or later")
    result = analyze("security", "--offline=true", "--no-pager", str(rendered[name]))
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match[1]) <= MAX_EXPOSURE, result.stdout


@needs_analyze
def test_the_timer_fires_every_five_minutes():
    calendar = last(unit(TIMER), "Timer", "OnCalendar")
    result = analyze("calendar", "--iterations=4", calendar)
    assert result.returncode == 0, result.stderr
    stamps = [datetime.strptime(m, "%Y-%m-%d %H:%M:%S") for m in re.findall(
        r"(?:Next elapse|Iter\. #\d+): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", result.stdout)]
    assert len(stamps) == 4, result.stdout
    gaps = {(b - a).total_seconds() for a, b in zip(stamps[:-1], stamps[1:], strict=True)}
    assert gaps == {300.0}
    assert all(s.minute % 5 == 0 and s.second == 0 for s in stamps)


# --- the seccomp sandbox, rebuilt with libseccomp ---------------------------------------------

# Run in a fresh interpreter: install the filters, then exec the command (as systemd does just
# before it executes ExecStart=). The filters stack: the kernel applies the strictest verdict.
SANDBOX_BOOT = r"""
import ctypes, json, os, sys
spec = json.loads(os.environ.pop("TM_SANDBOX"))
lib = ctypes.CDLL(spec["lib"], use_errno=True)

class Cmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("a", ctypes.c_uint64), ("b", ctypes.c_uint64)]

lib.seccomp_init.restype = ctypes.c_void_p
lib.seccomp_init.argtypes = [ctypes.c_uint32]
lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                       ctypes.c_uint, ctypes.POINTER(Cmp)]
lib.seccomp_load.argtypes = [ctypes.c_void_p]
ALLOW, ERRNO = 0x7FFF0000, 0x00050000
EQ, GE, MASKED_EQ = 4, 5, 7

def nr(name):
    return lib.seccomp_syscall_resolve_name(name.encode())

def rule(ctx, action, name, *cmps):
    arr = (Cmp * max(len(cmps), 1))(*cmps)
    rc = lib.seccomp_rule_add_array(ctx, action, nr(name), len(cmps), arr)
    assert rc == 0, (name, rc)

def load(ctx):
    assert lib.seccomp_load(ctx) == 0, "seccomp_load failed"

if spec["mdwe"]:  # MemoryDenyWriteExecute=yes, as systemd builds it
    ctx = lib.seccomp_init(ALLOW)
    rule(ctx, ERRNO | 1, "mmap", Cmp(2, MASKED_EQ, 6, 6))
    rule(ctx, ERRNO | 1, "mprotect", Cmp(2, MASKED_EQ, 4, 4))
    rule(ctx, ERRNO | 1, "pkey_mprotect", Cmp(2, MASKED_EQ, 4, 4))
    rule(ctx, ERRNO | 1, "shmat", Cmp(2, MASKED_EQ, 0o100000, 0o100000))
    load(ctx)
if spec["families"]:  # RestrictAddressFamilies=: socket() of any other family
    ctx = lib.seccomp_init(ALLOW)
    for family in range(spec["af_max"]):
        if family not in spec["families"]:
            rule(ctx, ERRNO | 97, "socket", Cmp(0, EQ, family, 0))  # EAFNOSUPPORT
    rule(ctx, ERRNO | 97, "socket", Cmp(0, GE, spec["af_max"], 0))
    load(ctx)
ctx = lib.seccomp_init(ERRNO | spec["errno"])  # SystemCallFilter=: an allow list
for name in spec["allow"]:
    number = nr(name)
    if number >= 0:  # negative: not a system call of this architecture
        rule(ctx, ALLOW, name)
load(ctx)
os.execv(sys.argv[1], sys.argv[1:])
"""


def syscall_groups() -> dict[str, list[str]]:
    """`systemd-analyze syscall-filter`: every @group with its members (names or @groups)."""
    groups: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in analyze("syscall-filter").stdout.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.strip(), [])
        elif line.startswith(" ") and current is not None and not line.strip().startswith("#"):
            current.append(line.strip())
        elif not line.strip() or line.startswith("#"):
            current = None if line.startswith("#") else current
    assert "@system-service" in groups and "@default" in groups, groups.keys()
    return groups


def expand(names: list[str], groups: dict[str, list[str]]) -> set[str]:
    out: set[str] = set()
    for name in names:
        out |= expand(groups[name], groups) if name.startswith("@") else {name}
    return out


def sandbox_spec(service: dict[str, list[str]]) -> dict[str, Any]:
    """The seccomp settings of a [Service] section, as systemd reads them: the first
    SystemCallFilter= line is an allow list (with @default always in it), and a later '~' line
    takes its names out again."""
    groups = syscall_groups()
    filters = service["SystemCallFilter"]
    assert not filters[0].startswith("~"), "the emulation expects an allow list first"
    allowed = expand(["@default"], groups)
    for entry in filters:
        names = entry.lstrip("~").split()
        allowed = allowed - expand(names, groups) if entry.startswith("~") else (
            allowed | expand(names, groups))
    families = [getattr(socket, f) for f in service["RestrictAddressFamilies"][-1].split()]
    assert service["SystemCallArchitectures"] == ["native"]  # libseccomp's default
    return {"lib": LIBSECCOMP, "allow": sorted(allowed), "families": families, "af_max": 46,
            "errno": getattr(errno, service["SystemCallErrorNumber"][-1]),
            "mdwe": service["MemoryDenyWriteExecute"] == ["yes"]}


def read_env_file(path: Path) -> dict[str, str]:
    """EnvironmentFile= for the plain KEY=value lines .env.example has."""
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith(("#", ";")):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def systemd_environment(service: dict[str, list[str]], extra: dict[str, str]) -> dict[str, str]:
    """What systemd gives the process: its own few variables, Environment=, EnvironmentFile=."""
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "LANG": "C.UTF-8", "USER": USER, "LOGNAME": USER, "SHELL": "/usr/sbin/nologin"}
    for line in service.get("Environment", []):
        for assignment in line.split():
            key, _, value = assignment.partition("=")
            env[key] = value
    for path in service["EnvironmentFile"]:
        env.update(read_env_file(Path(path.lstrip("-"))))
    env.update(extra)
    return env


# ProtectSystem=strict, roughly: in a mount namespace of its own every mount is read-only but
# /proc, /sys and /dev. A fresh tmpfs on /var/tmp stands for the writable places the unit
# gives (PrivateTmp='s /tmp, StateDirectory= as $HOME): TMPDIR and HOME point there.
READ_ONLY = r"""
mount --make-rprivate /
awk '{print $2}' /proc/self/mounts | while read -r m; do
  case "$m" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue;; esac
  mount -o remount,bind,ro "$m" 2>/dev/null || echo "sandbox: $m stays writable" >&2
done
mount -t tmpfs -o mode=1777 tmpfs /var/tmp && mkdir /var/tmp/state || exit 97
export TMPDIR=/var/tmp HOME=/var/tmp/state
exec "$@"
"""
UNSHARE = shutil.which("unshare")


@functools.cache
def read_only_root() -> bool:
    """Whether ProtectSystem= can be rebuilt here: root, and mount namespaces allowed."""
    return bool(UNSHARE) and os.geteuid() == 0 and subprocess.run(
        [UNSHARE, "--mount", "true"], capture_output=True, check=False).returncode == 0


def start_in_sandbox(service: dict[str, list[str]], argv: list[str], env: dict[str, str],
                     **kw: Any) -> subprocess.Popen[bytes]:
    """argv under the unit's seccomp filters and, as root (CI), on a read-only file system."""
    assert service["ProtectSystem"] == ["strict"] and service["PrivateTmp"] == ["yes"]
    env = {**env, "TM_SANDBOX": json.dumps(sandbox_spec(service))}
    command = [sys.executable, "-c", SANDBOX_BOOT, *argv]
    if read_only_root():
        assert UNSHARE is not None
        command = [UNSHARE, "--mount", "/bin/sh", "-c", READ_ONLY, "sh", *command]
    return subprocess.Popen(command, env=env, cwd=service["WorkingDirectory"][-1], **kw)


PROBE = r"""
import asyncio, ctypes, errno, mmap, os, socket, ssl, sys, threading
import psycopg2
results = {}
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    results["wx_memory"] = "allowed"
except PermissionError:
    results["wx_memory"] = "refused"
try:
    socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)
    results["netlink"] = "allowed"
except OSError as exc:
    results["netlink"] = errno.errorcode[exc.errno]
try:
    os.sched_setaffinity(0, os.sched_getaffinity(0))
    results["sched_setaffinity"] = "allowed"
except OSError as exc:
    results["sched_setaffinity"] = errno.errorcode[exc.errno]
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
except OSError as exc:
    results["tcp_connect"] = errno.errorcode.get(exc.errno, str(exc))
try:
    psycopg2.connect(host="127.0.0.1", port=int(sys.argv[1]), dbname="x", connect_timeout=5)
except psycopg2.OperationalError as exc:
    results["libpq"] = "refused" if "refused" in str(exc) else str(exc)
results["getaddrinfo"] = bool(socket.getaddrinfo("localhost", 443, type=socket.SOCK_STREAM))
results["tls_context"] = bool(ssl.create_default_context().get_ca_certs() is not None)
results["ctypes_callback"] = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(lambda x: 2 * x)(21)
results["event_loop"] = asyncio.run(asyncio.sleep(0, result="ran"))
worker = threading.Thread(target=lambda: results.setdefault("thread", "ran"))
worker.start()
worker.join()
import scheduler, trading_monitor.cli.dispatch  # noqa: the daemon's whole import graph
results["imports"] = "ok"
try:
    open(os.path.join(os.getcwd(), "written-by-the-probe"), "w").close()
    results["install_dir"] = "writable"
except OSError as exc:
    results["install_dir"] = errno.errorcode[exc.errno]
import tempfile
with tempfile.TemporaryFile() as scratch:  # PrivateTmp=
    results["tempfile"] = scratch.write(b"ok")
print(repr(results))
"""


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@needs_analyze
@needs_seccomp
def test_the_sandbox_allows_what_the_daemon_needs_and_refuses_the_rest(rendered, install):
    service = unit(DAEMON, rendered[DAEMON].read_text())["Service"]
    python = str(install / ".venv" / "bin" / "python")
    env = systemd_environment(service, {"HOME": str(install)})
    proc = start_in_sandbox(service, [python, "-c", PROBE, str(closed_port())], env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    results = ast.literal_eval(out.decode().strip().splitlines()[-1])
    assert results == {
        "wx_memory": "refused",        # MemoryDenyWriteExecute= is in force ...
        "netlink": "EAFNOSUPPORT",     # ... and RestrictAddressFamilies= ...
        "sched_setaffinity": "EPERM",  # ... and SystemCallFilter=~@resources
        "tcp_connect": "ECONNREFUSED", # but TCP, libpq, DNS, TLS, ctypes, asyncio, threads work
        "libpq": "refused", "getaddrinfo": True, "tls_context": True, "ctypes_callback": 42,
        "event_loop": "ran", "thread": "ran", "imports": "ok",
        # ProtectSystem=strict (emulated as root only)
        "install_dir": "EROFS" if read_only_root() else "writable",
        "tempfile": 2}


class NotifySocket:
    """systemd's end of the notify protocol: datagrams with the sender's credentials."""

    def __init__(self, path: Path):
        assert len(str(path)) < 100, "sun_path is 108 bytes"
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(self.path)
        self.messages: list[tuple[int, str]] = []

    def wait_for(self, message: str, proc: subprocess.Popen[bytes], seconds: float) -> int:
        """The pid that sent `message` (one of its newline-separated assignments)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"exited {proc.returncode} before {message}")
            self.sock.settimeout(max(0.05, min(1.0, deadline - time.monotonic())))
            try:
                data, ancillary, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
            except TimeoutError:
                continue
            pid = next(struct.unpack("iII", d[:12])[0] for level, kind, d in ancillary
                       if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS)
            self.messages.append((pid, data.decode()))
            if message in data.decode().split("\n"):
                return pid
        raise AssertionError(f"no {message} within {seconds} s: {self.messages}")

    def drain(self) -> set[str]:
        """Every assignment received so far, reading what is still queued."""
        self.sock.setblocking(False)
        try:
            while True:
                self.messages.append((0, self.sock.recv(4096).decode()))
        except BlockingIOError:
            pass
        return {m for _, message in self.messages for m in message.split("\n")}

    def close(self) -> None:
        self.sock.close()


@needs_analyze
@needs_seccomp
def test_the_daemon_runs_in_the_sandbox_as_systemd_starts_it(rendered, install, db_params,
                                                             exchange, tmp_path):
    """Type=notify, NotifyAccess=main, WatchdogSec=, TimeoutStopSec= and the sandbox, together:
    the rendered ExecStart= from WorkingDirectory= with the unit's environment."""
    # CLOCK_SOURCE=system: the heartbeat's time is then the one the health check reads.
    settings = {**exchange_env(exchange, CLOCK_SOURCE="system"), "DATABASE_URL": (
        f"postgresql://{db_params['user']}@{db_params['host']}:{db_params['port']}/"
        f"{db_params['dbname']}")}
    env_file = install / ".env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    u = unit(DAEMON, rendered[DAEMON].read_text())
    service = u["Service"]
    notify = NotifySocket(tmp_path / "notify")
    env = systemd_environment(service, {
        "HOME": str(tmp_path), "NOTIFY_SOCKET": notify.path,
        "WATCHDOG_USEC": str(int(service["WatchdogSec"][-1]) * 1_000_000)})
    command = service["ExecStart"][-1].split()
    log = open(tmp_path / "daemon.log", "wb")
    proc = start_in_sandbox(service, command, env, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert notify.wait_for("READY=1", proc, 60) == proc.pid
        assert notify.wait_for("WATCHDOG=1", proc, 60) == proc.pid  # NotifyAccess=main
        status = Path(f"/proc/{proc.pid}/status").read_text()
        assert re.search(r"^Seccomp:\s+2$", status, re.M), status  # filtered
        assert int(re.search(r"^Seccomp_filters:\s+(\d+)$", status, re.M)[1]) >= 3
        health = unit(HEALTH, rendered[HEALTH].read_text())["Service"]
        if (ROOT / "scripts" / "health_check.py").exists():
            # -v: every check on a line of its own. (Right after start-up the first heartbeat
            # may still say standby: "no leader" is a race here, not the sandbox.)
            check = start_in_sandbox(health, [*health["ExecStart"][-1].split(), "-v"],
                                     systemd_environment(health, {"HOME": str(tmp_path)}),
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            out = check.communicate(timeout=120)[0].decode()
            assert check.returncode in (0, 1, 2), out  # 3 would be the check failing to run
            for line in ("[OK] database:", "[OK] schema:", "[OK] broker:"):
                assert line in out, out
            assert "[UNKNOWN]" not in out and "Traceback" not in out, out
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=int(service["TimeoutStopSec"][-1])) == 0
        assert "STOPPING=1" in notify.drain()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        notify.close()
    text = (tmp_path / "daemon.log").read_text()
    assert "Operation not permitted" not in text and "PermissionError" not in text, text[-3000:]
    assert "Traceback" not in text, text[-3000:]


@needs_analyze
@needs_seccomp
def test_the_alert_unit_sends_through_apprise_in_the_sandbox(rendered, install, tmp_path):
    """ExecStart= as systemd runs it for trading-monitor-alert@trading-monitor-health.service:
    %i and %H filled in, ${ALERT_URLS} one argument; a json:// URL lands on a local server."""
    received: list[dict[str, Any]] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        (install / ".env").write_text(f"ALERT_URLS=json://127.0.0.1:{server.server_port}/\n")
        service = unit(ALERT, rendered[ALERT].read_text())["Service"]
        env = systemd_environment(service, {"HOME": str(tmp_path)})
        failed = "trading-monitor-health.service"
        command = service["ExecStart"][-1].replace("%i", failed).replace("%H", "host1")
        argv = [env["ALERT_URLS"] if word == "${ALERT_URLS}" else word
                for word in shlex.split(command)]
        proc = start_in_sandbox(service, argv, env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        out = proc.communicate(timeout=120)[0].decode()
        assert proc.returncode == 0, out
    finally:
        server.shutdown()
    assert [r["title"] for r in received] == [f"trading-monitor: {failed} failed on host1"]
    assert f"journalctl -u {failed}" in received[0]["message"]


# --- macOS LaunchAgents ---------------------------------------------------------------------


def agent(name: str) -> dict[str, Any]:
    with (DEPLOYMENT / name).open("rb") as f:
        return plistlib.load(f)


@pytest.mark.parametrize("name, label, script", [
    (AGENT, "com.trading.monitor", "scheduler.py"),
    (HEALTH_AGENT, "com.trading.monitor.health", "scripts/health_check.py"),
])
def test_launch_agents(name, label, script):
    plist = agent(name)
    assert plist["Label"] == label and name == f"{label}.plist"
    args = plist["ProgramArguments"]
    assert isinstance(args, list) and all(isinstance(a, str) for a in args)
    assert args == [f"{PLACEHOLDER}/.venv/bin/python", f"{PLACEHOLDER}/{script}"]
    # The settings loader reads .env from the working directory.
    assert plist["WorkingDirectory"] == PLACEHOLDER
    env = plist["EnvironmentVariables"]
    assert isinstance(env, dict) and all(isinstance(v, str) for v in env.values())
    assert env["PATH"].split(":")[0] == f"{PLACEHOLDER}/.venv/bin"
    assert all(p.startswith("/") for p in env["PATH"].split(":"))
    assert env["PYTHONUNBUFFERED"] == "1"
    for key in ("StandardOutPath", "StandardErrorPath"):
        assert isinstance(plist[key], str) and plist[key].startswith(f"{PLACEHOLDER}/logs/")
    assert plist["RunAtLoad"] is True
    assert plist["Umask"] == 0o077
    for path in (*args, plist["WorkingDirectory"], plist["StandardOutPath"]):
        assert os.path.isabs(path) and "~" not in path and "$" not in path  # launchd expands none


def test_the_daemon_launch_agent_keeps_it_alive():
    plist = agent(AGENT)
    assert plist["KeepAlive"] == {"SuccessfulExit": False}  # a crash restarts, a stop stops
    assert isinstance(plist["ThrottleInterval"], int) and 10 <= plist["ThrottleInterval"] <= 60
    assert isinstance(plist["ExitTimeOut"], int) and plist["ExitTimeOut"] > LONGEST_JOB_SECONDS
    assert plist["ProcessType"] == "Standard"


def test_the_health_launch_agent_runs_every_five_minutes():
    plist = agent(HEALTH_AGENT)
    assert plist["StartInterval"] == 300 and "KeepAlive" not in plist


@pytest.mark.skipif(shutil.which("plutil") is None, reason="plutil is macOS only")
@pytest.mark.parametrize("name", [AGENT, HEALTH_AGENT])
def test_plutil_lint(name):
    result = subprocess.run(["plutil", "-lint", str(DEPLOYMENT / name)], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_install_dir_is_laid_out_as_the_units_expect(install):
    """The render fixture itself: what verify is given is a real install."""
    python = install / ".venv" / "bin" / "python"
    assert os.access(python, os.X_OK) and (install / "scheduler.py").read_text()
    assert stat.S_IMODE((install / ".env").stat().st_mode) == 0o600


def test_the_license_is_an_spdx_expression_with_a_setuptools_that_reads_it():
    """The `license = {text = ...}` table is deprecated (setuptools: due 2027-02-18)."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"
    assert "setuptools>=77" in project["build-system"]["requires"]
