"""One path to the database (issue 22): outside migrations and the NocoDB role's DDL, every
SQL statement is a named query in a package's queries.sql, read through db/queries.py; every
lifecycle write (trade_journal, order_execution, fills, position_tracking) goes through the
ledger.

The scans read the source (the AST), so they hold for code no test runs. PENDING names the
modules not converted yet, each with why: the list only shrinks."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest
from psycopg2 import errors as pg_errors

from trading_monitor.daemon.wakeups import CHANNEL
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.queries import Queries, named_query

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "trading_monitor"

# A Python string that starts like one of these (upper case, then white space) is a statement.
STATEMENT = re.compile(r"^\s*\(?\s*(SELECT|INSERT|UPDATE|DELETE|WITH|CREATE|ALTER|DROP|LOCK|"
                       r"LISTEN|UNLISTEN|NOTIFY|TRUNCATE|GRANT|REVOKE|SET|RESET|SHOW|COPY|"
                       r"VALUES|MERGE|CALL|DO|SAVEPOINT|ROLLBACK TO|RELEASE)\s")

# Where SQL text in Python is the design, not a leftover: file -> the statements' first words
# allowed there (None: any).
ALLOWED: dict[str, set[str] | None] = {
    # Migrations: the runner's own bookkeeping table and lock (db/migrations/*.sql are files).
    "trading_monitor/db/migrate.py": None,
    # The NocoDB role's DDL, composed with psycopg2.sql Identifiers from the settings (issue
    # 22 moves it to db/roles.py as it is); its reads of the catalog are named queries.
    "trading_monitor/cli/nocodb.py": {"ALTER", "GRANT", "REVOKE", "DROP", "CREATE"},
    # The role's privileges, one has_table_privilege column per fixed privilege name.
    "trading_monitor/db/nocodb_verify.py": {"SELECT"},
    # DDL on NocoDB's production table (printed for the operator, or run): a migration of a
    # table we do not own. Its reads are named queries.
    "trading_monitor/cli/production_tables.py": {"ALTER", "CREATE", "DROP"},
    # The generic insert/update/get/query of TradingDB, composed with sql.Identifier from the
    # schema's column list, and its savepoints (identifiers too).
    "trading_monitor/db/connection.py": {"INSERT", "UPDATE", "SELECT", "SAVEPOINT", "ROLLBACK TO",
                                    "RELEASE"},
    # The submit_decision function's shape table, rendered into a migration's text.
    "trading_monitor/domain/decision_shape.py": {"SELECT"},
}
ALLOWED_DIRS = {
    # The paper exchange is the broker's stand-in: it has no database.
    "trading_monitor/paper_exchange/",
}
# Not converted yet: none left (the corporate-action modules were the last); the test fails
# on a new statement anywhere.
PENDING: set[str] = set()

LIFECYCLE_TABLES = ("trade_journal", "order_execution", "fills", "position_tracking")
WRITE = re.compile(r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(" + "|".join(LIFECYCLE_TABLES)
                   + r")\b", re.I)
GENERIC_WRITE = re.compile(r"\.(?:insert|update)\(\s*\"(" + "|".join(LIFECYCLE_TABLES) + r")\"")
# Lifecycle writes that go around the ledger: none left (reconcile.py's and hand_closes.py's
# are Ledger.set_planned_stop and Ledger.assign_exit_fills, corporate_cash.py's
# CorporateBooks.reprice_cash_in_lieu). A new one fails here.
KNOWN_BYPASSES: set[tuple[str, str]] = set()


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def statements_in(path: Path) -> list[tuple[int, str]]:
    """(line, first word) of every string constant (f-string parts too) that is a statement."""
    tree = ast.parse(path.read_text(), str(path))
    skip = docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            m = STATEMENT.match(node.value)
            if m:
                found.append((node.lineno, m.group(1)))
    return sorted(found)


def is_exempt(name: str, word: str) -> bool:
    if any(name.startswith(d) for d in ALLOWED_DIRS | {p for p in PENDING if p.endswith("/")}):
        return True
    if name in PENDING:
        return True
    if name in ALLOWED:
        words = ALLOWED[name]
        return words is None or word in words
    return False


def test_no_statement_is_written_in_python():
    """Each statement is a named query in its package's queries.sql; a new inline statement
    (or module constant) fails here with its file and line."""
    inline = [f"{rel(p)}:{line} {word}" for p in modules()
              for line, word in statements_in(p) if not is_exempt(rel(p), word)]
    assert inline == [], "SQL in a Python string; make it a named query:\n" + "\n".join(inline)


def test_the_scan_finds_what_it_is_for(tmp_path):
    """The scan's teeth: an inline statement, a module constant and an f-string part are
    found; a docstring and a word in a message are not."""
    probe = tmp_path / "probe.py"
    probe.write_text('"""SELECT in a docstring is prose."""\n'
                     'Q = """\nSELECT id FROM trade_journal\n"""\n'
                     'def f(db, t):\n'
                     '    db.execute_update("UPDATE fills SET qty = %s", [1])\n'
                     '    db.execute_update(f"LISTEN {t}")\n'
                     '    return "select a trade"\n')
    assert [w for _, w in statements_in(probe)] == ["SELECT", "UPDATE", "LISTEN"]


def test_pending_and_allowed_entries_still_exist():
    """An entry for a file that is gone (moved, converted) must go: the lists only shrink."""
    for entry in [*ALLOWED, *ALLOWED_DIRS, *PENDING]:
        assert (ROOT / entry).exists(), entry
    for name, words in ALLOWED.items():
        found = {w for _, w in statements_in(ROOT / name)}
        assert found, f"{name} has no SQL in Python any more: remove it from ALLOWED"
        assert words is None or found & words, f"{name}: trim its ALLOWED words to {found}"


def query_files() -> list[Path]:
    return sorted(PACKAGE.rglob("queries.sql"))


def references() -> dict[str, set[str]]:
    """package -> the names its modules look up as QUERIES["name"] (Queries(__name__))."""
    used: dict[str, set[str]] = defaultdict(set)
    for path in modules():
        text = path.read_text()
        if "Queries(__name__)" not in text or path.name == "queries.py":
            continue
        package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
        used[package] |= set(re.findall(r'QUERIES\["(\w+)"\]', text))
    return used


def test_every_named_query_a_module_uses_is_in_its_packages_file():
    """A module moved to another package without its queries fails here, not in production."""
    used = references()
    assert used
    for package, names in used.items():
        missing = names - Queries(package + ".x").names()
        assert not missing, f"{package}: {sorted(missing)} not in its queries.sql"


def test_every_named_query_is_used():
    """A named query nobody runs is dead text. (db/, report/ and cockpit/ run theirs by a name
    passed to db.named or query(db, name): not checked here.)"""
    used = references()
    for path in query_files():
        package = ".".join(path.parent.relative_to(ROOT).parts)
        if package in ("trading_monitor.db", "trading_monitor.report", "trading_monitor.cockpit"):
            continue
        unused = Queries(package + ".x").names() - used.get(package, set())
        assert not unused, f"{rel(path)}: {sorted(unused)} are never run"


def test_lifecycle_writes_go_through_the_ledger():
    """A named query that writes trade_journal, order_execution, fills or position_tracking
    lives in ledger/queries.sql (or db/queries.sql), and only ledger modules run it; no
    module outside ledger/ writes those tables with TradingDB.insert/update."""
    outside: list[str] = []
    for path in query_files():
        package = ".".join(path.parent.relative_to(ROOT).parts)
        if package in ("trading_monitor.ledger", "trading_monitor.db"):
            continue
        for name in Queries(package + ".x").names():
            if WRITE.search(named_query(name, package)):
                outside.append(f"{rel(path)}: {name}")
    db_writes = {name for name in Queries("trading_monitor.db.x").names()
                 if WRITE.search(named_query(name))}
    for path in modules():
        name = rel(path)
        if name.startswith(("trading_monitor/ledger/", "trading_monitor/paper_exchange/")) \
                or any(name.startswith(p) for p in PENDING):
            continue
        text = path.read_text()
        outside += [f"{name}: db.named*({q!r})" for q in db_writes
                    if re.search(r"named(?:_update)?\(\s*\"" + q + "\"", text)]
        outside += [f"{name}: {m.group(0)}" for m in GENERIC_WRITE.finditer(text)]
    assert outside == [], "lifecycle writes outside the ledger:\n" + "\n".join(outside)


def lifecycle_writes_in_python(path: Path) -> set[str]:
    """The lifecycle tables a module writes with an inline statement or db.insert/update."""
    text = path.read_text()
    tree = ast.parse(text)
    found = {m.group(1) for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and isinstance(node.value, str)
             for m in [WRITE.search(node.value)] if m}
    return found | {m.group(1) for m in GENERIC_WRITE.finditer(text)}


def test_the_ledger_bypasses_left_are_the_known_ones():
    """Outside ledger/, the pending modules write lifecycle tables only where KNOWN_BYPASSES
    says (a new bypass fails here; a fixed one must leave the list)."""
    found = {(rel(p), table) for p in modules()
             if not rel(p).startswith(("trading_monitor/ledger/",
                                       "trading_monitor/paper_exchange/"))
             for table in lifecycle_writes_in_python(p)}
    assert found == KNOWN_BYPASSES


def test_the_listen_query_names_the_wakeup_channel():
    assert named_query("listen_wakeups", "trading_monitor.daemon").splitlines()[-1] \
        == f"LISTEN {CHANNEL}"


def _prepare(db: TradingDB, text: str) -> None:
    """PREPARE the statement (its parameters as $n, typed by the server): it parses and names
    real tables, columns and functions. Nothing runs."""
    text = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
    if "VALUES {}" in text:  # a psycopg2.sql template: one VALUES row
        text = text.replace("VALUES {}", "VALUES (%s, %s::boolean, %s::numeric, "
                            "%s::timestamptz, %s::numeric, %s::numeric, %s::numeric, "
                            "%s::numeric)")
    text = text.replace("{}", "NULL")  # a literal (db_clock's time)
    numbers: dict[str, int] = {}

    def number(m: re.Match[str]) -> str:
        key = m.group(1) or f"#{len(numbers)}"
        return f"${numbers.setdefault(key, len(numbers) + 1)}"

    text = re.sub(r"(?<!%)%(?:\((\w+)\))?s", number, text).replace("%%", "%")
    db.execute_update("PREPARE one_sql_path_probe AS " + text)
    db.execute_update("DEALLOCATE one_sql_path_probe")


@pytest.mark.parametrize("package", sorted(
    ".".join(f.parent.relative_to(PACKAGE.parent).parts) for f in PACKAGE.rglob("queries.sql")))
def test_the_named_queries_prepare_against_the_schema(db, package):
    """Every moved statement parses against the migrated schema and names its real tables
    and columns (PREPARE; no rows)."""
    for name in sorted(Queries(package + ".x").names()):
        text = named_query(name, package)
        first = next(line for line in text.splitlines() if not line.startswith("--")).split()[0]
        if first in ("SET", "LISTEN", "SHOW"):  # not preparable; their own tests run them
            continue
        try:
            _prepare(db, text)
        except (pg_errors.UndefinedFunction, pg_errors.AmbiguousFunction):
            # An operator or function typed by a parameter the probe leaves untyped (the code
            # sends an interval, a date): the tables and columns were resolved before it.
            pass
        except Exception as exc:
            raise AssertionError(f"{package} {name}: {exc}") from exc
