"""What the NocoDB role may do, checked against what PostgreSQL says it can (inherited
rights included): `trading-monitor nocodb-role` commits only when nothing is off."""

from __future__ import annotations

import re

from psycopg2 import sql

from trading_monitor.db.connection import TradingDB
from trading_monitor.db.queries import Queries
from trading_monitor.exceptions import ConfigError, FatalError

QUERIES = Queries(__name__)  # queries.sql beside this module

SCHEMA = "public"
# updated_at is listed because NocoDB may send it with an edit; the trigger overwrites it.
SYSTEM_STATE_UPDATE_COLUMNS = ("value", "reason", "updated_at")
EXIT_APPROVAL_COLUMNS = ("exit_approved", "updated_at")
# Every identifier the role's SQL is built with is one of these shapes or a fixed name.
# A plain lower-case name, short enough for the policy names derived from it.
ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,39}")
PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
DATABASE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,62}")
NOT_WRITABLE = ("INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


def role_identifier(role: str) -> sql.Identifier:
    """The role as an identifier, only if it is a plain name (it comes from --role)."""
    if not ROLE_NAME.fullmatch(role):
        raise ConfigError([f"--role {role!r}: use 1-40 lower-case letters, digits or _, "
                           "not starting with a digit"])
    return sql.Identifier(role)


def policy_identifier(role: str, action: str) -> sql.Identifier:
    role_identifier(role)
    if action not in ("insert", "update"):
        raise ValueError(f"unknown policy action {action!r}")
    return sql.Identifier(f"tm_{role}_operator_{action}")


def database_identifier(name: str) -> sql.Identifier:
    # current_database(), checked too: a name that needs more than quoting is refused.
    if not DATABASE_NAME.fullmatch(name):
        raise FatalError(f"database name {name!r} is not a plain name; grant CONNECT by hand")
    return sql.Identifier(name)


def sequence_identifier(name: tuple[str, str]) -> sql.Identifier:
    # From the catalog (the sequence behind analysis_decision.id), yet checked like any name.
    if not all(PLAIN_NAME.fullmatch(part) for part in name):
        raise FatalError(f"analysis_decision's id sequence {'.'.join(name)!r} is not a plain "
                         "name; grant USAGE on it by hand")
    return sql.Identifier(*name)


def verify(db: TradingDB, role: str, exit_approval: bool) -> list[str]:
    """Everything the role can do that it should not, or cannot that it should."""
    problems: list[str] = []
    allowed_tables = {"analysis_decision": {"INSERT", "UPDATE"}, "system_state": {"INSERT"}}
    allowed_columns = {"system_state": set(SYSTEM_STATE_UPDATE_COLUMNS)}
    if exit_approval:
        allowed_columns["position_tracking"] = set(EXIT_APPROVAL_COLUMNS)
    checks = ", ".join(f"has_table_privilege(%(role)s, c.oid, '{p}') AS {p.lower()}"
                       for p in ("SELECT", *NOT_WRITABLE))
    rows = db.execute_query(
        f"SELECT c.relname, c.relkind, {checks}, "  # noqa: S608 - fixed privilege names
        "  ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid "
        "        AND a.attnum > 0 AND NOT a.attisdropped "
        "        AND has_column_privilege(%(role)s, c.oid, a.attnum, 'UPDATE')) AS col_update,"
        "  ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid "
        "        AND a.attnum > 0 AND NOT a.attisdropped "
        "        AND has_column_privilege(%(role)s, c.oid, a.attnum, 'INSERT')) AS col_insert "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY 1",
        {"role": role, "schema": SCHEMA})
    for row in rows:
        name = row["relname"]
        if not row["select"]:
            problems.append(f"cannot read {name} (is it owned by another user? run this as "
                            "its owner or a superuser)")
        table_ok = allowed_tables.get(name, set()) if row["relkind"] in ("r", "p") else set()
        extra = [p for p in NOT_WRITABLE if row[p.lower()] and p not in table_ok]
        if extra:
            problems.append(f"can {'/'.join(extra)} {name}")
        columns_ok = set(allowed_columns.get(name, set()))
        if "UPDATE" in table_ok:
            columns_ok |= set(row["col_update"])
        wrong = sorted(set(row["col_update"]) - columns_ok)
        if wrong:
            problems.append(f"can UPDATE {name} ({', '.join(wrong)})")
        if row["col_insert"] and "INSERT" not in table_ok:
            problems.append(f"can INSERT into {name}")
        if name in allowed_tables and row["relkind"] in ("r", "p"):
            missing = [p for p in sorted(allowed_tables[name]) if not row[p.lower()]]
            if missing:
                problems.append(f"cannot {'/'.join(missing)} {name}")
    by_name = {r["relname"]: r for r in rows}
    for name, columns in allowed_columns.items():
        if name in by_name and not columns <= set(by_name[name]["col_update"]):
            problems.append(f"cannot UPDATE {name} ({', '.join(sorted(columns))})")
    sequences = db.execute_query(
        QUERIES["nocodb_verify_sequences"], [SCHEMA, role])
    problems += [f"can set sequence {r['relname']}" for r in sequences]
    return problems
