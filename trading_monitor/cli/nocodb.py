"""`trading-monitor nocodb-role`: the PostgreSQL role NocoDB connects with (docs/nocodb.md).

    trading-monitor nocodb-role --role trading_monitor_nocodb --password-env NOCODB_DB_PASSWORD

The role reads every table and view of the schema and writes only what a trader may edit:
`analysis_decision` (insert, update; and n8n's `submit_decision(jsonb)`) and the operator's
rows of `system_state` (the kill switch: insert, and update of value and reason, under
row-level security). Nothing else: no DELETE, no write through a view or to a lifecycle table.

Run it again at any time: it creates or alters the role, revokes what is more, grants what is
missing, and checks the role's effective privileges (memberships included) before it commits.
The password (--password-env's variable, or `.env`) goes only as a SCRAM/MD5 verifier, never
printed. Exit codes: 0 done; 1 fatal (e.g. an unsafe role); 2 configuration; 3 no database.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from trading_monitor.cli.common import EXIT_OK, handles_errors, setup_logging
from trading_monitor.db import pg
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.nocodb_verify import (
    EXIT_APPROVAL_COLUMNS,
    SCHEMA,
    SYSTEM_STATE_UPDATE_COLUMNS,
    database_identifier,
    policy_identifier,
    role_identifier,
    sequence_identifier,
    verify,
)
from trading_monitor.db.params import get_postgres_config
from trading_monitor.db.pg import encrypt_password, sql
from trading_monitor.db.queries import Queries
from trading_monitor.exceptions import ConfigError, FatalError
from trading_monitor.settings.config import describe_connection, load_settings, read_environment

QUERIES = Queries(__name__)  # queries.sql beside this module

DEFAULT_ROLE = "trading_monitor_nocodb"
# The system_state rows a trader may set from NocoDB. The halts are cleared with `resume`
# (audited); installation_id, fill_cursor and the monitors' state belong to the jobs.
OPERATOR_KEYS = ("kill_switch",)
BASELINE_POLICY = "tm_every_row"  # 0009_nocodb.sql


@dataclass(frozen=True)
class Statement:
    run: sql.Composable
    shown: sql.Composable  # what a dry run prints: the same, without the password verifier


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trading-monitor nocodb-role", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--role", default=DEFAULT_ROLE,
                        help=f"the role NocoDB logs in as (default {DEFAULT_ROLE})")
    parser.add_argument("--password-env", metavar="VAR",
                        help="environment variable (or .env entry) holding its password; "
                             "needed to create the role, optional to keep an existing one's")
    parser.add_argument("--allow-exit-approval", action="store_true",
                        help="also let NocoDB tick position_tracking.exit_approved (and only "
                             "that column); by default exits are approved with "
                             "`trading-monitor approve-exit`")
    parser.add_argument("--dry-run", action="store_true",
                        help="check and print the SQL, change nothing")
    parser.add_argument("--test-mode", action="store_true", help="target the test database")
    return parser


def _keys() -> sql.Composable:
    return sql.SQL("ARRAY[{}]::text[]").format(
        sql.SQL(", ").join(sql.Literal(k) for k in OPERATOR_KEYS))


def _columns(names: Sequence[str]) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def _one(db: TradingDB, query: str, params: Sequence[Any]) -> dict[str, Any] | None:
    return next(iter(db.execute_query(query, params)), None)


def _preconditions(db: TradingDB, role: str) -> dict[str, Any]:
    """What the plan needs to know; refuses (FatalError) what would make the role unsafe."""
    here = _one(db, QUERIES["nocodb_whoami"], [])
    assert here is not None
    if role == here["me"]:
        raise FatalError(f"role {role} is the user this command (and the jobs) connect as; "
                         "NocoDB needs a role of its own")
    tables = {r["relname"]: r for r in db.execute_query(
        QUERIES["nocodb_decision_tables"], [SCHEMA])}
    state = tables.get("system_state")
    baseline = _one(db, QUERIES["nocodb_baseline_policy"],
                    [BASELINE_POLICY, f"{SCHEMA}.system_state"])
    if state is None or not state["relrowsecurity"] or baseline is None:
        raise FatalError("system_state has no row-level security yet: apply the migrations "
                         "first (`trading-monitor migrate`, or "
                         "scripts/create_production_tables.py for NocoDB production)")
    decisions = tables.get("analysis_decision")
    if decisions is None:
        raise FatalError("table analysis_decision does not exist")
    if not decisions["has_pk"]:
        # NocoDB sends a one-row edit of a table without a primary key as an UPDATE with no
        # WHERE: granting UPDATE would let one edit rewrite every decision.
        raise FatalError("analysis_decision has no primary key; NocoDB would turn a one-row "
                         "edit into an UPDATE of every row. Add one (ALTER TABLE "
                         "analysis_decision ADD PRIMARY KEY (id)) and run this again")
    found = _one(db, QUERIES["nocodb_role_powers"], [role])
    if found is not None:
        powers = [word for word, key in (("SUPERUSER", "rolsuper"), ("BYPASSRLS", "rolbypassrls"),
                                         ("CREATEROLE", "rolcreaterole"),
                                         ("CREATEDB", "rolcreatedb"),
                                         ("REPLICATION", "rolreplication")) if found[key]]
        if powers:
            raise FatalError(
                f"role {role} has {', '.join(powers)}; a NocoDB role must have none. Pick "
                f"another --role, or first: ALTER ROLE {role} "
                + " ".join("NO" + p for p in powers))
        owned = db.execute_query(
            QUERIES["nocodb_role_owned_tables"], [SCHEMA, role])
        owns_db_or_schema = _one(
            db, QUERIES["nocodb_role_owns_db_or_schema"],
            [SCHEMA, role, role])
        if owned or owns_db_or_schema:
            what = ", ".join(r["relname"] for r in owned[:5]) or "the database or schema"
            raise FatalError(f"role {role} owns {what}: an owner may do anything, whatever "
                             "is granted. NocoDB needs a role that owns nothing")
    sequence = _one(db, QUERIES["nocodb_decision_sequence"],
                    [f"{SCHEMA}.analysis_decision"])
    submit = _one(db, QUERIES["nocodb_submit_function"],
                  [f"{SCHEMA}.submit_decision(jsonb)"])
    return {"dbname": here["dbname"], "me": here["me"], "exists": found is not None,
            "can_login": bool(found and found["rolcanlogin"]), "submit": submit is not None,
            "decision_sequence": (sequence["nsp"], sequence["rel"]) if sequence else None}


def plan(role: str, facts: dict[str, Any], verifier: str | None,
         exit_approval: bool) -> list[Statement]:
    r = role_identifier(role)
    s = sql.Identifier(SCHEMA)
    decisions = sql.SQL("{}.{}").format(s, sql.Identifier("analysis_decision"))
    state = sql.SQL("{}.{}").format(s, sql.Identifier("system_state"))
    steps: list[Statement] = []

    def add(statement: sql.Composable, shown: sql.Composable | None = None) -> None:
        steps.append(Statement(statement, statement if shown is None else shown))

    verb = sql.SQL("ALTER" if facts["exists"] else "CREATE")
    if verifier is not None:
        add(sql.SQL("{} ROLE {} LOGIN PASSWORD {}").format(verb, r, sql.Literal(verifier)),
            sql.SQL("{} ROLE {} LOGIN PASSWORD '***'").format(verb, r))
    elif not facts["can_login"]:
        add(sql.SQL("ALTER ROLE {} LOGIN").format(r))
    # Converge: whatever was granted before (by hand, or by an older version) goes first.
    add(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(s, r))
    add(sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA {} FROM {}").format(s, r))
    add(sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(s, r))
    database = database_identifier(facts["dbname"])
    add(sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(database, r))
    add(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, r))
    add(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(s, r))
    # Read everything, views included, and what this user creates later (new migrations).
    add(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(s, r))
    add(sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT SELECT ON TABLES TO {}")
        .format(s, r))
    add(sql.SQL("GRANT INSERT, UPDATE ON {} TO {}").format(decisions, r))
    if facts["decision_sequence"]:
        add(sql.SQL("GRANT USAGE ON SEQUENCE {} TO {}").format(
            sequence_identifier(facts["decision_sequence"]), r))
    if facts.get("submit"):  # n8n's way to write a decision (migration 0011)
        add(sql.SQL("GRANT EXECUTE ON FUNCTION {}.submit_decision(jsonb) TO {}").format(s, r))
    # system_state: insert a row, change value and reason; never its key, never a delete.
    add(sql.SQL("GRANT INSERT ON {} TO {}").format(state, r))
    add(sql.SQL("GRANT UPDATE ({}) ON {} TO {}").format(
        _columns(SYSTEM_STATE_UPDATE_COLUMNS), state, r))
    # ... and only on the operator's rows. RESTRICTIVE: ANDed with tm_every_row, for this
    # role alone. USING (true) with the check on the new row: since the key cannot change,
    # an edit of any other row is refused with an error rather than skipped in silence.
    inserts, updates = policy_identifier(role, "insert"), policy_identifier(role, "update")
    add(sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(inserts, state))
    add(sql.SQL("CREATE POLICY {} ON {} AS RESTRICTIVE FOR INSERT TO {} "
                "WITH CHECK (key = ANY ({}))").format(inserts, state, r, _keys()))
    add(sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(updates, state))
    add(sql.SQL("CREATE POLICY {} ON {} AS RESTRICTIVE FOR UPDATE TO {} "
                "USING (true) WITH CHECK (key = ANY ({}))").format(updates, state, r, _keys()))
    if exit_approval:
        add(sql.SQL("GRANT UPDATE ({}) ON {}.{} TO {}").format(
            _columns(EXIT_APPROVAL_COLUMNS), s, sql.Identifier("position_tracking"), r))
    return steps


def _password(var: str | None) -> str | None:
    if var is None:
        return None
    value = read_environment().get(var)
    if not value:
        raise ConfigError([f"{var}: not set (the NocoDB role's password, from --password-env)"])
    return value


def run(db: TradingDB, role: str, *, password: str | None, dry_run: bool = False,
        exit_approval: bool = False, out: Callable[[str], None] = print) -> int:
    role_identifier(role)
    facts = _preconditions(db, role)
    if not facts["exists"] and password is None:
        raise FatalError(f"role {role} does not exist: give --password-env VAR to create it "
                         "with the password in $VAR")
    verifier = None
    if password is not None:
        # Only the verifier reaches the server (and its statement log), never the password.
        verifier = encrypt_password(password, role, db.connection)
    steps = plan(role, facts, verifier, exit_approval)
    if dry_run:
        for step in steps:
            out(step.shown.as_string(db.connection) + ";")
        out(f"-- dry run: nothing changed (role {role} "
            f"{'exists' if facts['exists'] else 'does not exist yet'})")
        return EXIT_OK
    try:
        with db.transaction():
            for step in steps:
                db.execute_update(step.run)
            problems = verify(db, role, exit_approval)
            if problems:
                raise FatalError(f"role {role} would have more (or less) than NocoDB needs, "
                                 "nothing changed: " + "; ".join(problems))
    except pg.Error as exc:
        # The server's own words, without the statement (which carries the verifier).
        message = exc.diag.message_primary or type(exc).__name__
        hint = (" (creating or altering a role needs CREATEROLE or a superuser; a DBA can "
                "create the role, then run this without --password-env)"
                if "role" in message.lower() or "permission" in message.lower() else "")
        raise FatalError(f"could not set up role {role}: {message}{hint}") from None
    _report(db, role, facts, password is not None, exit_approval, out)
    return EXIT_OK


def _report(db: TradingDB, role: str, facts: dict[str, Any], password_set: bool,
            exit_approval: bool, out: Callable[[str], None]) -> None:
    done = "updated" if facts["exists"] else "created"
    out(f"role {role} {done}" + ("; password set from the environment" if password_set
                                 else "; password unchanged"))
    out(f"reads: every table and view of schema {SCHEMA} (and tables and views "
        f"{facts['me']} creates later)")
    writes = ("analysis_decision (insert, update); system_state rows "
              + ", ".join(OPERATOR_KEYS) + " (insert; update of value, reason)")
    if exit_approval:
        writes += "; position_tracking.exit_approved"
    out(f"writes: {writes}")
    out("refused: DELETE anywhere, every view, every other table (event_log, trade_journal, "
        "order_execution, fills, ...)")
    creates = _one(db, QUERIES["nocodb_role_may_create"], [role, SCHEMA])
    if creates and creates["ok"]:
        out(f"warning: {role} may CREATE tables in schema {SCHEMA} (PUBLIC has that right "
            f"before PostgreSQL 15); to stop it: REVOKE CREATE ON SCHEMA {SCHEMA} FROM PUBLIC")
    info = db.connection.info
    where = describe_connection({"user": role, "host": info.host, "port": info.port,
                                 "dbname": info.dbname})
    out(f"NocoDB: connect the external data source as user {role} to {where} "
        "(docs/nocodb.md)")


@handles_errors
def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = load_settings()
    setup_logging(settings.log_level)
    password = _password(args.password_env)
    config = get_postgres_config(test_mode=args.test_mode, settings=settings)
    with TradingDB(test_mode=args.test_mode, config=config,
                   application_name="trading-monitor nocodb-role") as db:
        return run(db, args.role, password=password, dry_run=args.dry_run,
                   exit_approval=args.allow_exit_approval)


if __name__ == "__main__":
    sys.exit(main())
