"""The architecture is enforced, not hoped for: .importlinter's contracts hold on the package,
each one fails when one import breaks it, every package is placed in them, and the package has
no import cycle (docs/architecture.md draws the same layers)."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "trading_monitor"
CONFIG = ROOT / ".importlinter"
LINT = [str(Path(sys.executable).parent / "lint-imports")]

# One import per contract that breaks it: (contract name, file to write, the import, what the
# report must name). Each probe sits in its own module, so a contract's failure is its own.
PROBES = {
    "Layers import only downwards": (
        "ledger/zz_probe.py", "import trading_monitor.order_monitor.service\n",
        "trading_monitor.ledger.zz_probe -> trading_monitor.order_monitor.service"),
    "The jobs, the report and the invariants are independent of one another": (
        "position_monitor/zz_probe.py", "import trading_monitor.order_monitor.cycle\n",
        "trading_monitor.position_monitor.zz_probe -> trading_monitor.order_monitor.cycle"),
    "Only trading_monitor.db imports psycopg2": (
        "engine/zz_probe.py", "import psycopg2\n",
        "trading_monitor.engine.zz_probe -> psycopg2"),
    "The kernel imports nothing of ours": (
        "crashpoints.py", "import trading_monitor.domain.sides  # probe\n",
        "trading_monitor.crashpoints -> trading_monitor.domain.sides"),
    "The paper exchange imports nothing of trading_monitor": (
        "paper_exchange/zz_probe.py", "import trading_monitor.clock\n",
        "trading_monitor.paper_exchange.zz_probe -> trading_monitor.clock"),
}

# Debts: a ring of imports wholly inside one of these (module-name prefixes) is known; the test
# fails on any other ring, and on a listed debt that has no ring any more.
KNOWN_CYCLES: dict[str, str] = {}  # none: a ring found fails the test


def lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LINT, "--config", str(cwd / ".importlinter"), "--no-cache"],
                          cwd=cwd, env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=120)


def contracts() -> dict[str, configparser.SectionProxy]:
    parser = configparser.ConfigParser()
    parser.read(CONFIG)
    return {parser[s]["name"]: parser[s] for s in parser.sections() if ":contract:" in s}


def top_level() -> set[str]:
    """Every package and module directly under trading_monitor, from the tree."""
    names = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    names |= {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    return {f"trading_monitor.{n}" for n in names}


def listed(value: str) -> set[str]:
    return {m.strip() for line in value.splitlines() for m in line.split("|") if m.strip()}


def test_the_contracts_hold():
    done = lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    for name in PROBES:
        assert f"{name} KEPT" in done.stdout


def test_each_contract_fails_when_one_import_breaks_it(tmp_path):
    shutil.copytree(PACKAGE, tmp_path / "trading_monitor",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(CONFIG, tmp_path / ".importlinter")
    for path, line, _ in PROBES.values():
        with (tmp_path / "trading_monitor" / path).open("a") as f:
            f.write(line)
    done = lint(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    report = " ".join(done.stdout.split("Broken contracts")[-1].split())
    starts = sorted((report.index(f"{name} ---"), name) for name in PROBES)
    for (start, name), (end, _) in zip(starts, [*starts[1:], (len(report), "")], strict=True):
        assert f"{name} BROKEN" in done.stdout, name
        named = PROBES[name][2]
        assert named in report[start:end], f"{name} does not name {named}: {report[start:end]}"


def test_every_package_is_placed_in_the_contracts():
    """A new package must take a place in the layers, the psycopg2 rule and the exchange's
    rule, or this fails naming it."""
    found = contracts()
    everything = top_level()
    layered = listed(found["Layers import only downwards"]["layers"])
    assert everything - {"trading_monitor.paper_exchange"} == layered
    sql = listed(found["Only trading_monitor.db imports psycopg2"]["source_modules"])
    assert sql == everything - {"trading_monitor.db"}
    exchange = listed(found["The paper exchange imports nothing of trading_monitor"]
                      ["forbidden_modules"])
    assert exchange == everything - {"trading_monitor.paper_exchange"}
    kernel = listed(found["The kernel imports nothing of ours"]["source_modules"])
    assert kernel == {"trading_monitor.clock", "trading_monitor.exceptions",
                      "trading_monitor.crashpoints"}
    assert {f"trading_monitor.{p.stem}" for p in PACKAGE.glob("*.py")
            if p.stem != "__init__"} == kernel, "the root holds the kernel only"


def cycles(graph: grimp.ImportGraph) -> list[frozenset[str]]:
    """Every set of modules that import one another in a ring (Tarjan's strongly connected
    components of more than one module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.find_modules_directly_imported_by(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            ring = []
            while True:
                w = stack.pop()
                ring.append(w)
                if w == v:
                    break
            if len(ring) > 1:
                found.append(frozenset(ring))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for module in sorted(graph.modules):
            if module not in index:
                visit(module)
    finally:
        sys.setrecursionlimit(limit)
    return found


def test_there_is_no_import_cycle():
    """Imports inside functions count: a ring is a ring. An `if TYPE_CHECKING:` import is a
    type's name for mypy, never executed (the exchange's modules name `Venue` in their
    signatures that way), so it is no import."""
    found = cycles(grimp.build_graph("trading_monitor", cache_dir=None,
                                     exclude_type_checking_imports=True))

    def known(ring: frozenset[str]) -> str | None:
        return next((p for p in KNOWN_CYCLES if all(m.startswith(p) for m in ring)), None)

    assert [sorted(r) for r in found if known(r) is None] == []
    paid = set(KNOWN_CYCLES) - {known(r) for r in found}
    assert paid == set(), f"no ring left in {paid}: remove it from KNOWN_CYCLES"


@pytest.mark.parametrize("edges, expected", [
    ([("a.x", "a.y"), ("a.y", "a.x")], [{"a.x", "a.y"}]),
    ([("a.x", "a.y"), ("a.y", "a.z"), ("a.z", "a.x"), ("a.z", "a.w")], [{"a.x", "a.y", "a.z"}]),
    ([("a.x", "a.y"), ("a.y", "a.z")], []),
])
def test_the_cycle_finder_finds_rings(edges, expected):
    graph = grimp.ImportGraph()
    for importer, imported in edges:
        graph.add_import(importer=importer, imported=imported)
    assert sorted(map(set, cycles(graph)), key=sorted) == expected


def test_every_module_is_small():
    """Small modules (docs/development.md): at most 300 lines, the paper exchange included."""
    long = {str(f.relative_to(PACKAGE)): n for f in PACKAGE.rglob("*.py")
            if (n := len(f.read_text(encoding="utf-8").splitlines())) > 300}
    assert long == {}
