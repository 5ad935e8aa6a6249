"""NocoDB: the views a trader opens first, and the role NocoDB connects with.

The role tests connect as the role itself (the test server trusts local connections), the way
NocoDB would, and show what PostgreSQL refuses: an UPDATE through a view, of a lifecycle table
and of event_log; and that an UPDATE of one decision changes one row.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg2
import psycopg2.extras
import pytest
import pytz
from psycopg2 import sql

from tests.helpers import add_decision, entry, outcome
from tests.integration.test_production_tables import N8N_TABLE
from trading_monitor.cli import nocodb, production_tables
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.schema import TABLES, VIEWS
from trading_monitor.exceptions import ConfigError, FatalError

D = Decimal
PASSWORD = "correct horse battery staple 7f3a"
INSUFFICIENT_PRIVILEGE = "42501"
_names = itertools.count()


# -- helpers -----------------------------------------------------------------------------------

def _libpq(params: dict[str, Any], **over: Any) -> dict[str, Any]:
    return {k: v for k, v in {**params, **over}.items() if v not in (None, "")}


@pytest.fixture
def roles(pg_server: dict[str, Any]) -> Iterator[Callable[[dict[str, Any]], str]]:
    """New role names (roles are cluster-wide); each is dropped with what it holds at the end."""
    made: list[tuple[str, dict[str, Any]]] = []

    def new(params: dict[str, Any]) -> str:
        name = f"tm_nc_{os.getpid()}_{next(_names)}"
        made.append((name, params))
        return name

    yield new
    for name, params in made:
        for where in (params, pg_server):  # the test's database may be gone already
            try:
                conn = psycopg2.connect(**_libpq(where))
            except psycopg2.OperationalError:
                continue
            conn.autocommit = True
            with conn, conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
                if cur.fetchone():
                    cur.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
                    if where is pg_server:
                        cur.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))
            conn.close()


@contextmanager
def as_role(params: dict[str, Any], role: str) -> Iterator[Any]:
    """A session as NocoDB has it: logged in as the role, each statement on its own."""
    conn = psycopg2.connect(**_libpq(params, user=role, password=None),
                            cursor_factory=psycopg2.extras.RealDictCursor,
                            options="-c timezone=UTC")
    conn.autocommit = True
    try:
        yield conn
    finally:
        conn.close()


def _on(statement: str, name: str) -> sql.Composed:
    return sql.SQL(statement).format(sql.Identifier(name))


def rows(conn: Any, statement: Any, params: Any = None) -> list[dict[str, Any]]:
    with conn.cursor() as cur:
        cur.execute(statement, params)
        return [dict(r) for r in cur.fetchall()]


def changed(conn: Any, statement: Any, params: Any = None) -> int:
    with conn.cursor() as cur:
        cur.execute(statement, params)
        return int(cur.rowcount)


def refused(conn: Any, statement: Any, params: Any = None) -> psycopg2.Error:
    with pytest.raises(psycopg2.Error) as info, conn.cursor() as cur:
        cur.execute(statement, params)
    return info.value


def make_role(db: TradingDB, name: str, **kw: Any) -> list[str]:
    out: list[str] = []
    kw.setdefault("password", PASSWORD)
    assert nocodb.run(db, name, out=out.append, **kw) == 0
    return out


@pytest.fixture
def role(db: TradingDB, db_params: dict[str, Any], roles: Callable[..., str]) -> str:
    name = roles(db_params)
    make_role(db, name)
    return name


# -- the views ---------------------------------------------------------------------------------

def test_views_show_a_trade_from_decision_to_pnl_on_one_row(db, jobs, db_params, exchange, role):
    d = add_decision(db, entry(entry_price="181.00", stop_loss="175.00", take_profit="195.00"))
    jobs.executor()
    jid = int(outcome(db, d)["trade_journal_id"])
    jobs.order_monitor()  # the entry filled: a protected position
    with as_role(db_params, role) as nc:
        [position] = rows(nc, "SELECT * FROM v_open_positions")
        assert (position["trade_journal_id"], position["symbol"], position["side"]) == (
            jid, "AAPL", "long")
        assert position["qty"] == D(10) and position["analysis_decision_id"] == d
        assert position["planned_stop_loss"] == D("175.00")
        assert position["live_stop_price"] == D("175.00"), position
        [open_trade] = rows(nc, "SELECT * FROM v_trade_lifecycle")
        assert (open_trade["status"], open_trade["position_qty"]) == ("POSITION", D(10))

        exchange.control.set_price("AAPL", "174.00")  # through the stop
        exchange.control.advance(1)
        jobs.order_monitor()
        journal = db.get_by_id("trade_journal", jid)
        assert journal is not None and journal["status"] == "CLOSED"
        [trade] = rows(nc, "SELECT * FROM v_trade_lifecycle")
        [entry_order] = [o for o in db.query("order_execution", {"trade_journal_id": jid})
                         if o["order_role"] == "ENTRY"]
        assert trade["trade_journal_id"] == jid and trade["analysis_decision_id"] == d
        assert (trade["decision_action"], trade["decision_outcome"]) == ("NEW_TRADE",
                                                                         "EXECUTED")
        assert trade["decision_reason"].startswith("submitted buy 10 AAPL")
        assert trade["entry_client_order_id"] == entry_order["client_order_id"]
        assert trade["entry_order_status"] == "filled"
        assert trade["orders"] >= 2 and trade["open_orders"] == 0
        assert (trade["fills"], trade["entry_filled_qty"], trade["exit_filled_qty"]) == (
            2, D(10), D(10))
        assert (trade["status"], trade["exit_reason_code"]) == ("CLOSED", "STOPPED_OUT")
        assert trade["actual_entry_price"] == journal["actual_entry_price"]
        assert trade["exit_price"] == journal["exit_price"]
        assert trade["realized_pnl"] == journal["actual_pnl"] < 0
        assert trade["position_qty"] is None
        assert rows(nc, "SELECT * FROM v_open_positions") == []

        exit_day = journal["exit_date"].astimezone(pytz.timezone("America/New_York")).date()
        [day] = [r for r in rows(nc, "SELECT * FROM v_daily_pnl")
                 if r["trading_day"] == exit_day]
        assert (day["trades_closed"], day["winning_trades"], day["losing_trades"]) == (1, 0, 1)
        assert day["realized_pnl"] == journal["actual_pnl"]
        assert day["fees"] == (journal["fees"] or 0)


def test_daily_pnl_sums_the_trades_closed_each_new_york_day(db):
    def closed(exit_at: str, pnl: str) -> None:
        db.insert("trade_journal", {
            "symbol": "MSFT", "side": "buy", "trade_style": "SWING", "protection_mode": "bracket",
            "status": "CLOSED", "exit_date": datetime.fromisoformat(exit_at),
            "actual_pnl": D(pnl), "fees": D("0.5")})

    closed("2026-11-20T15:00:00+00:00", "100")
    closed("2026-11-20T20:59:00+00:00", "-30")     # 15:59 in New York
    closed("2026-11-21T02:00:00+00:00", "7")       # 21:00 on the 20th in New York
    closed("2026-11-23T15:00:00+00:00", "-5")
    db.insert("daily_equity", {"trading_day": datetime(2026, 11, 20).date(),
                               "start_equity": D("10000"), "last_equity": D("10077")})
    got = {r["trading_day"].isoformat(): r for r in db.execute_query("SELECT * FROM v_daily_pnl")}
    assert list(got) == ["2026-11-23", "2026-11-20"]
    day = got["2026-11-20"]
    assert (day["trades_closed"], day["winning_trades"], day["losing_trades"]) == (3, 2, 1)
    assert (day["realized_pnl"], day["fees"], day["equity_change"]) == (D(77), D("1.5"), D(77))
    assert got["2026-11-23"]["start_equity"] is None


# -- what the role may do ----------------------------------------------------------------------

def test_the_role_reads_every_table_and_view(db, db_params, role):
    names = [r["relname"] for r in db.execute_query(
        "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
        "AND relkind IN ('r', 'v')")]
    assert set(TABLES) | set(VIEWS) <= set(names)
    with as_role(db_params, role) as nc:
        for name in names:
            rows(nc, _on("SELECT * FROM {} LIMIT 1", name))
        assert rows(nc, "SELECT key FROM system_state") != []  # RLS: every row is visible


def test_an_update_through_any_view_is_refused(db, db_params, roles):
    ids = [add_decision(db, entry(t)) for t in ("AAPL", "MSFT", "NVDA")]
    # The view of the incident: a simple view is automatically updatable in PostgreSQL, and
    # NocoDB sends a one-row edit of a view without a primary key with no WHERE.
    db.execute_update("CREATE VIEW v_simple_before AS SELECT * FROM analysis_decision")
    name = roles(db_params)
    make_role(db, name)
    db.execute_update("CREATE VIEW v_simple_after AS SELECT * FROM analysis_decision")
    updatable = {r["table_name"] for r in db.execute_query(
        "SELECT table_name FROM information_schema.views WHERE is_updatable = 'YES'")}
    assert {"v_simple_before", "v_simple_after"} <= updatable
    before = db.execute_query("SELECT * FROM analysis_decision ORDER BY id")
    with as_role(db_params, name) as nc:
        for view in ("v_simple_before", "v_simple_after"):
            for statement in ("UPDATE {} SET reasoning = 'edited'", "DELETE FROM {}",
                              "INSERT INTO {} (ticker) VALUES ('X')"):
                assert refused(nc, _on(statement, view)).pgcode == INSUFFICIENT_PRIVILEGE
            assert rows(nc, _on("SELECT count(*) AS n FROM {}", view)) == [{"n": 3}]  # readable
        for view in VIEWS:  # ours: not even updatable, and not granted either
            column = sql.Identifier(sorted(VIEWS[view])[0])
            refused(nc, sql.SQL("UPDATE {} SET {} = {}").format(sql.Identifier(view), column,
                                                                 column))
    assert db.execute_query("SELECT * FROM analysis_decision ORDER BY id") == before
    assert [r["id"] for r in before] == ids
    granted = db.execute_query(
        "SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace "
        "AND c.relkind = 'v' AND (has_table_privilege(%(r)s, c.oid, 'INSERT') "
        "OR has_table_privilege(%(r)s, c.oid, 'UPDATE') "
        "OR has_table_privilege(%(r)s, c.oid, 'DELETE') "
        "OR has_any_column_privilege(%(r)s, c.oid, 'UPDATE'))", {"r": name})
    assert granted == []


LIFECYCLE = ("trade_journal", "order_execution", "fills", "position_tracking",
             "decision_outcome")


def test_the_role_cannot_change_lifecycle_tables_or_event_log(db, db_params, role):
    jid = db.insert("trade_journal", {"symbol": "AAPL", "side": "buy", "trade_style": "SWING",
                                      "protection_mode": "bracket", "notes": "ours"})
    eid = db.insert("event_log", {"entity": "trade_journal", "entity_id": jid,
                                  "event": "created"})
    with as_role(db_params, role) as nc:
        for table in sorted(set(TABLES) - {"analysis_decision", "system_state"}):
            for statement in ("UPDATE {} SET id = id",  # NocoDB's no-WHERE edit
                              "DELETE FROM {}", "TRUNCATE {}"):
                assert refused(nc, _on(statement, table)).pgcode == INSUFFICIENT_PRIVILEGE
        for table in LIFECYCLE:
            assert refused(nc, _on("INSERT INTO {} DEFAULT VALUES", table)).pgcode == \
                INSUFFICIENT_PRIVILEGE
        assert refused(nc, "UPDATE trade_journal SET notes = 'edited' WHERE id = %s",
                       [jid]).pgcode == INSUFFICIENT_PRIVILEGE
        # Refused for want of the privilege, before event_log's own trigger: the refusal
        # does not depend on a trigger that a bulk PATCH in NocoDB answers 200 to.
        error = refused(nc, "UPDATE event_log SET event = 'edited' WHERE id = %s", [eid])
        assert error.pgcode == INSUFFICIENT_PRIVILEGE and "permission denied" in str(error)
        assert refused(nc, "INSERT INTO event_log (entity, event) VALUES ('x', 'y')").pgcode \
            == INSUFFICIENT_PRIVILEGE
    assert db.get_by_id("trade_journal", jid)["notes"] == "ours"
    assert db.get_by_id("event_log", eid)["event"] == "created"


def test_an_update_of_one_decision_changes_one_row(db, db_params, role):
    ids = [add_decision(db, entry(t)) for t in ("AAPL", "MSFT", "NVDA")]
    before = {r["id"]: r for r in db.execute_query("SELECT * FROM analysis_decision")}
    db.execute_query("SELECT pg_sleep(0.01)")
    with as_role(db_params, role) as nc:
        assert changed(nc, "UPDATE analysis_decision SET reasoning = 'edited in NocoDB' "
                           "WHERE id = %s", [ids[1]]) == 1
        [new] = rows(nc, "INSERT INTO analysis_decision (ticker, primary_action) "
                         "VALUES ('AMD', 'NO_ACTION') RETURNING id")
        assert refused(nc, "DELETE FROM analysis_decision WHERE id = %s",
                       [ids[0]]).pgcode == INSUFFICIENT_PRIVILEGE
    after = {r["id"]: r for r in db.execute_query("SELECT * FROM analysis_decision")}
    assert set(after) == set(ids) | {new["id"]}
    assert [i for i in ids if after[i] != before[i]] == [ids[1]]
    assert after[ids[1]]["reasoning"] == "edited in NocoDB"
    # the trigger: a decision edited after its intent was written can be seen
    assert after[ids[1]]["updated_at"] > before[ids[1]]["updated_at"]


def test_the_role_sets_the_kill_switch_and_no_other_system_state_row(db, db_params, role):
    db.named_update("set_system_value", {"key": "fill_cursor", "value": "act-41",
                                         "reason": "the order monitor's"})
    before = {r["key"]: r for r in db.query("system_state")}
    assert "kill_switch" not in before
    with as_role(db_params, role) as nc:
        assert changed(nc, "INSERT INTO system_state (key, value, reason) "
                           "VALUES ('kill_switch', 'on', 'from NocoDB')") == 1
        assert changed(nc, "UPDATE system_state SET value = 'off', reason = 'back on' "
                           "WHERE key = 'kill_switch'") == 1
        assert changed(nc, "UPDATE system_state SET value = 'on' WHERE key = 'kill_switch'") == 1
        upsert = ("INSERT INTO system_state (key, value, reason) VALUES (%s, 'on', 'FOMC day') "
                  "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, "
                  "reason = EXCLUDED.reason")  # docs/order-executor.md's statement
        assert changed(nc, upsert, ["kill_switch"]) == 1
        assert refused(nc, upsert, ["installation_id"]).pgcode == INSUFFICIENT_PRIVILEGE
        for key in ("installation_id", "fill_cursor"):
            error = refused(nc, "UPDATE system_state SET value = 'x' WHERE key = %s", [key])
            assert error.pgcode == INSUFFICIENT_PRIVILEGE and "row-level security" in str(error)
        for statement in (
                "UPDATE system_state SET value = 'x'",  # every row at once: all refused
                "UPDATE system_state SET key = 'kill_switch' WHERE key = 'installation_id'",
                "UPDATE system_state SET key = 'other' WHERE key = 'kill_switch'",
                "INSERT INTO system_state (key, value) VALUES ('halt_drawdown', '')",
                "DELETE FROM system_state WHERE key = 'kill_switch'"):
            assert refused(nc, statement).pgcode == INSUFFICIENT_PRIVILEGE, statement
    after = {r["key"]: r for r in db.query("system_state")}
    assert set(after) == set(before) | {"kill_switch"}
    assert {k: after[k]["value"] for k in before} == {k: before[k]["value"] for k in before}
    assert after["kill_switch"]["value"] == "on"


def test_a_kill_switch_flipped_by_the_role_halts_new_entries(db, jobs, db_params, exchange, role):
    with as_role(db_params, role) as nc:
        changed(nc, "INSERT INTO system_state (key, value, reason) "
                    "VALUES ('kill_switch', 'on', 'trader, from NocoDB')")
    d = add_decision(db, entry())
    jobs.executor()
    result = outcome(db, d)
    assert result["terminal_state"] == "REJECTED"
    assert "kill switch is on in system_state (trader, from NocoDB)" in result["reason"]
    assert exchange.control.orders() == []


def test_other_roles_still_see_and_write_every_system_state_row(db, db_params, roles, role):
    """RLS on system_state: a job that connects as a non-owner role is not narrowed."""
    job = roles(db_params)
    db.execute_update(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(job)))
    db.execute_update(sql.SQL("GRANT SELECT, INSERT, UPDATE ON system_state TO {}").format(
        sql.Identifier(job)))
    everything = db.execute_query("SELECT count(*) AS n FROM system_state")
    with as_role(db_params, job) as conn:
        assert rows(conn, "SELECT count(*) AS n FROM system_state") == everything
        assert changed(conn, "UPDATE system_state SET reason = 'job' "
                             "WHERE key = 'installation_id'") == 1


def test_exit_approval_from_nocodb_only_when_asked(db, db_params, roles):
    jid = db.insert("trade_journal", {"symbol": "AAPL", "side": "buy", "trade_style": "SWING",
                                      "protection_mode": "bracket", "status": "POSITION"})
    db.insert("position_tracking", {"trade_journal_id": jid, "symbol": "AAPL", "side": "long",
                                    "qty": D(10), "avg_entry_price": D(180)})
    name = roles(db_params)
    make_role(db, name)
    tick = "UPDATE position_tracking SET exit_approved = true WHERE trade_journal_id = %s"
    with as_role(db_params, name) as nc:
        assert refused(nc, tick, [jid]).pgcode == INSUFFICIENT_PRIVILEGE
    out = make_role(db, name, password=None, exit_approval=True)
    assert any("position_tracking.exit_approved" in line for line in out)
    with as_role(db_params, name) as nc:
        assert changed(nc, tick, [jid]) == 1
        assert refused(nc, "UPDATE position_tracking SET qty = 1").pgcode == \
            INSUFFICIENT_PRIVILEGE
    make_role(db, name, password=None)  # and gone again without the option
    with as_role(db_params, name) as nc:
        assert refused(nc, tick, [jid]).pgcode == INSUFFICIENT_PRIVILEGE


# -- the command -------------------------------------------------------------------------------

@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for key in list(os.environ):
        if key.startswith(("ALPACA_", "POSTGRES_", "TEST_POSTGRES", "TEST_DATABASE", "DATABASE_",
                           "NOCODB_")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return monkeypatch


def _url(params: dict[str, Any]) -> str:
    return f"postgresql://{params['user']}@{params['host']}:{params['port']}/{params['dbname']}"


def _privileges(db: TradingDB, name: str) -> list[dict[str, Any]]:
    return db.execute_query(
        "SELECT c.relname, has_table_privilege(%(r)s, c.oid, 'SELECT') AS s, "
        "has_table_privilege(%(r)s, c.oid, 'INSERT') AS i, "
        "has_table_privilege(%(r)s, c.oid, 'UPDATE') AS u, "
        "has_any_column_privilege(%(r)s, c.oid, 'UPDATE') AS cu, "
        "has_table_privilege(%(r)s, c.oid, 'DELETE') AS d "
        "FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace "
        "AND c.relkind IN ('r', 'v') ORDER BY 1", {"r": name})


def test_the_command_converges_and_never_shows_the_password(db, db_params, roles, clean_env,
                                                           capsys):
    name = roles(db_params)
    clean_env.setenv("DATABASE_URL", _url(db_params))
    clean_env.setenv("NOCODB_DB_PASSWORD", PASSWORD)
    argv = ["--role", name, "--password-env", "NOCODB_DB_PASSWORD"]
    assert nocodb.main(argv) == 0
    first = capsys.readouterr()
    assert f"role {name} created; password set from the environment" in first.out
    assert f"as user {name} to {name}@{db_params['host']}:{db_params['port']}/" in first.out
    granted = _privileges(db, name)
    stored = db.execute_query("SELECT rolpassword FROM pg_authid WHERE rolname = %s", [name])
    assert stored[0]["rolpassword"].startswith(("SCRAM-SHA-256$", "md5"))
    # Someone grants more by hand; the next run takes it back.
    for grant in ("GRANT UPDATE, DELETE ON trade_journal TO {}",
                  "GRANT UPDATE ON v_trade_lifecycle TO {}",
                  "GRANT UPDATE ON system_state TO {}"):
        db.execute_update(sql.SQL(grant).format(sql.Identifier(name)))
    assert _privileges(db, name) != granted
    assert nocodb.main(argv) == 0
    second = capsys.readouterr()
    assert f"role {name} updated" in second.out
    assert _privileges(db, name) == granted
    assert nocodb.main(["--role", name]) == 0  # an existing role: no password needed
    assert "password unchanged" in capsys.readouterr().out
    assert _privileges(db, name) == granted
    for text in (first.out, first.err, second.out, second.err):
        assert PASSWORD not in text and "horse" not in text


def test_a_dry_run_prints_the_sql_without_the_password_and_changes_nothing(db, db_params,
                                                                          roles):
    name = roles(db_params)
    out: list[str] = []
    assert nocodb.run(db, name, password=PASSWORD, dry_run=True, out=out.append) == 0
    text = "\n".join(out)
    assert f'CREATE ROLE "{name}" LOGIN PASSWORD \'***\'' in text
    assert "AS RESTRICTIVE FOR UPDATE" in text and "'kill_switch'" in text
    assert PASSWORD not in text and "SCRAM" not in text
    assert db.execute_query("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]) == []


def test_refusals(db, db_params, roles, clean_env, capsys):
    with pytest.raises(FatalError, match="does not exist: give --password-env"):
        nocodb.run(db, roles(db_params), password=None)
    with pytest.raises(FatalError, match="NocoDB needs a role of its own"):
        nocodb.run(db, db_params["user"], password=PASSWORD)
    with pytest.raises(ConfigError, match="lower-case"):
        nocodb.run(db, 'x"; DROP TABLE trade_journal; --', password=PASSWORD)
    powerful = roles(db_params)
    db.execute_update(sql.SQL("CREATE ROLE {} LOGIN BYPASSRLS CREATEROLE").format(
        sql.Identifier(powerful)))
    with pytest.raises(FatalError, match="has BYPASSRLS, CREATEROLE"):
        nocodb.run(db, powerful, password=PASSWORD)
    owner = roles(db_params)
    db.execute_update(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(owner)))
    db.execute_update(sql.SQL("ALTER TABLE alert OWNER TO {}").format(sql.Identifier(owner)))
    with pytest.raises(FatalError, match="owns alert"):
        nocodb.run(db, owner, password=PASSWORD)
    db.execute_update(sql.SQL("ALTER TABLE alert OWNER TO {}").format(
        sql.Identifier(db_params["user"])))
    # the command line: a missing password variable is a configuration error (exit 2)
    clean_env.setenv("DATABASE_URL", _url(db_params))
    assert nocodb.main(["--role", roles(db_params), "--password-env", "NOCODB_NOPE"]) == 2
    assert "NOCODB_NOPE: not set" in capsys.readouterr().err


def test_rights_inherited_from_another_role_are_refused_and_nothing_changes(db, db_params,
                                                                           roles):
    name = roles(db_params)
    make_role(db, name)
    granted = _privileges(db, name)
    writer = roles(db_params)
    ident = sql.Identifier
    db.execute_update(sql.SQL("CREATE ROLE {}").format(ident(writer)))
    db.execute_update(sql.SQL("GRANT UPDATE ON trade_journal TO {}").format(ident(writer)))
    db.execute_update(sql.SQL("GRANT {} TO {}").format(ident(writer), ident(name)))
    with pytest.raises(FatalError, match="can UPDATE trade_journal"):
        make_role(db, name, password=None, exit_approval=True)
    assert db.execute_query("SELECT has_any_column_privilege(%s, 'position_tracking', "
                            "'UPDATE') AS u", [name]) == [{"u": False}]  # rolled back
    db.execute_update(sql.SQL("REVOKE {} FROM {}").format(ident(writer), ident(name)))
    assert _privileges(db, name) == granted


def test_without_migrations_the_command_refuses(empty_db_params, roles):
    db = TradingDB(config=empty_db_params).connect()
    db.execute_update(N8N_TABLE)
    with pytest.raises(FatalError, match="apply the migrations first"):
        nocodb.run(db, roles(empty_db_params), password=PASSWORD)
    db.close()


# -- the production path -----------------------------------------------------------------------

def test_production_views_and_role_on_an_n8n_table(empty_db_params, roles, capsys):
    db = TradingDB(config=empty_db_params).connect()
    db.execute_update(N8N_TABLE)  # serial id, no created_at or updated_at, text decision
    assert production_tables.run(db, dry_run=False) == 0
    out = capsys.readouterr().out
    assert "not kept by a trigger" in out and "--with-updated-at-trigger" in out
    # No updated_at trigger; only migration 0012's NOTIFY triggers (docs/daemon.md).
    assert db.execute_query("SELECT tgname FROM pg_trigger WHERE tgrelid = "
                            "'analysis_decision'::regclass ORDER BY 1") == [
        {"tgname": "trg_analysis_decision_notify_insert"},
        {"tgname": "trg_analysis_decision_notify_update"}]
    name = roles(empty_db_params)
    make_role(db, name)
    with as_role(empty_db_params, name) as nc:
        for view in VIEWS:
            assert rows(nc, _on("SELECT * FROM {}", view)) == []
        # a serial id: the role needs the sequence, and has it
        [new] = rows(nc, "INSERT INTO analysis_decision (ticker, decision) "
                         "VALUES ('AMD', '{}') RETURNING id")
        assert changed(nc, "UPDATE analysis_decision SET n8n_workflow = 'wf-2' "
                           "WHERE id = %s", [new["id"]]) == 1
        assert refused(nc, "UPDATE trade_journal SET id = id").pgcode == INSUFFICIENT_PRIVILEGE
    assert db.execute_query("SELECT count(*) AS n FROM analysis_decision "
                            "WHERE n8n_workflow = 'wf-2'") == [{"n": 1}]
    db.close()


def test_production_updated_at_trigger_only_when_asked(empty_db_params, capsys):
    db = TradingDB(config=empty_db_params).connect()
    db.execute_update(N8N_TABLE)
    assert production_tables.run(db, dry_run=True, with_updated_at_trigger=True) == 0
    printed = capsys.readouterr().out
    assert "CREATE TRIGGER trg_analysis_decision_updated_at" in printed
    assert "updated_at" not in {r["column_name"] for r in db.execute_query(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = 'analysis_decision'")}
    before = db.execute_query("SELECT id, ticker, decision FROM analysis_decision ORDER BY id")
    assert production_tables.run(db, dry_run=False, with_updated_at_trigger=True) == 0
    out = capsys.readouterr().out
    assert "added column analysis_decision.updated_at; trigger " \
           "trg_analysis_decision_updated_at now keeps" in out
    assert "--with-updated-at-trigger" in out
    assert db.execute_query("SELECT id, ticker, decision FROM analysis_decision "
                            "ORDER BY id") == before
    assert production_tables.run(db, dry_run=False, with_updated_at_trigger=True) == 0
    again = capsys.readouterr().out
    assert "added column" not in again and "now keeps" in again
    old = db.execute_query("SELECT updated_at FROM analysis_decision WHERE id = 3")[0]
    db.execute_query("SELECT pg_sleep(0.01)")
    db.execute_update("UPDATE analysis_decision SET score = 99 WHERE id = 3")
    new = db.execute_query("SELECT updated_at FROM analysis_decision WHERE id = 3")[0]
    assert new["updated_at"] > old["updated_at"]
    assert production_tables.run(db, dry_run=False) == 0  # kept; no hint now
    assert "not kept by a trigger" not in capsys.readouterr().out
    db.close()


def test_a_decision_table_without_a_primary_key_is_refused(empty_db_params, roles):
    db = TradingDB(config=empty_db_params).connect()
    db.execute_update("CREATE TABLE analysis_decision (id serial, ticker text, decision text)")
    assert production_tables.run(db, dry_run=False) == 0
    with pytest.raises(FatalError, match="no primary key"):
        nocodb.run(db, roles(empty_db_params), password=PASSWORD)
    db.close()


def test_a_schema_anyone_may_create_in_is_reported(db, db_params, roles):
    """PostgreSQL before 15 lets PUBLIC create tables in schema public; the command says so."""
    db.execute_update("GRANT CREATE ON SCHEMA public TO PUBLIC")
    out = make_role(db, roles(db_params))
    assert any(line.startswith("warning:") and "REVOKE CREATE ON SCHEMA public FROM PUBLIC"
               in line for line in out)



def test_the_role_may_submit_a_decision_through_the_function(db, db_params, role):
    """n8n's one safe way in (migration 0011): nocodb-role grants EXECUTE to its role, also
    to a role made after the migration ran."""
    with as_role(db_params, role) as nc:
        (found,) = rows(nc, "SELECT submit_decision(%s::jsonb) AS id",
                        ['{"ticker": "AAPL", "primary_action": "NO_ACTION"}'])
    decision_id = found["id"]
    assert db.get_by_id("analysis_decision", decision_id)["ticker"] == "AAPL"
