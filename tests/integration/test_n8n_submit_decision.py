"""submit_decision(decision jsonb), migration 0011: n8n's one safe way to write a decision.

It checks structure only, from the same table (trading_monitor/domain/decision_shape.py) as the
Python contract, so the two cannot drift: these tests fail when the migration's rendered
block differs from the table, or when the function and parse_decision disagree on a decision.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extras
import pytest
from psycopg2 import sql

from trading_monitor.db.connection import TradingDB
from trading_monitor.domain.decision import Action, DecisionInvalid, parse_decision
from trading_monitor.domain.decision_shape import (
    ACTIONS,
    BEGIN_MARKER,
    END_MARKER,
    NEEDS,
    group_words,
    missing,
    render_sql_shape,
)

MIGRATION = (Path(__file__).resolve().parents[2] / "trading_monitor" / "db" / "migrations"
             / "0011_submit_decision.sql")

# A complete decision of each action; every test takes keys away from these.
FULL: dict[str, dict[str, Any]] = {
    "NEW_TRADE": {"ticker": "AAPL", "primary_action": "NEW_TRADE", "side": "BUY",
                  "trade_style": "SWING", "entry_price": "180.00", "stop_loss": "171.00",
                  "take_profit": "198.00", "quantity": 10},
    "AMEND": {"ticker": "AAPL", "primary_action": "AMEND", "side": "BUY",
              "trade_style": "SWING", "entry_price": "178.50", "stop_loss": "170.00",
              "take_profit": "196.00", "risk_amount": "85", "existing_trade_journal_id": 7},
    "CANCEL": {"ticker": "AAPL", "primary_action": "CANCEL", "existing_order_id": "abc-1"},
    "NO_ACTION": {"ticker": "AAPL", "primary_action": "NO_ACTION"},
}
_roles = itertools.count()


def connect(params: dict[str, Any]) -> Any:
    conn = psycopg2.connect(**{k: v for k, v in params.items() if v not in (None, "")})
    conn.autocommit = True
    return conn


def submit(params: dict[str, Any], decision: Any) -> int:
    conn = connect(params)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT submit_decision(%s::jsonb)",
                        (None if decision is None else psycopg2.extras.Json(decision),))
            return int(cur.fetchone()[0])
    finally:
        conn.close()


def refusal(params: dict[str, Any], decision: Any) -> psycopg2.Error:
    with pytest.raises(psycopg2.Error) as caught:
        submit(params, decision)
    return caught.value


def python_says(decision: dict[str, Any]) -> str | None:
    try:
        parse_decision({"id": 1, "decision": decision})
    except DecisionInvalid as exc:
        return str(exc)
    return None


def test_the_migration_holds_the_rendered_table() -> None:
    text = MIGRATION.read_text(encoding="utf-8")
    start, end = text.index(BEGIN_MARKER), text.index(END_MARKER) + len(END_MARKER)
    assert text[start:end] == render_sql_shape(), (
        "0011_submit_decision.sql's shape block differs from "
        "trading_monitor/domain/decision_shape.py:"
        " paste render_sql_shape() between the markers (and add a migration for a database"
        " that already has it)")
    assert set(ACTIONS) == {a.value for a in Action}


@pytest.mark.parametrize("action", ACTIONS)
def test_a_complete_decision_is_written_and_read_as_it_was_sent(
        action: str, db: TradingDB, db_params: dict[str, Any]) -> None:
    decision = {**FULL[action], "ticker": " aapl ",
                "reasoning": "breakout, retest; it's \"clean\" — 上昇 📈 \\ $1 {{ x }}"}
    assert python_says(decision) is None
    new_id = submit(db_params, decision)
    row = db.get_by_id("analysis_decision", new_id)
    assert row is not None
    assert (row["ticker"], row["primary_action"], row["executed"]) == ("AAPL", action, False)
    assert row["decision"] == decision  # every character as sent
    assert row["existing_trade_journal_id"] == decision.get("existing_trade_journal_id")
    assert row["existing_order_id"] == decision.get("existing_order_id")
    assert parse_decision(row).primary_action.value == action


def test_the_id_is_returned_in_the_tables_own_type(db: TradingDB) -> None:
    [types] = db.execute_query(
        "SELECT format_type(p.prorettype, NULL) AS returns, "
        "       format_type(a.atttypid, NULL) AS id_type "
        "FROM pg_proc p, pg_attribute a WHERE p.oid = 'submit_decision(jsonb)'::regprocedure "
        "AND a.attrelid = 'analysis_decision'::regclass AND a.attname = 'id'", [])
    assert types["returns"] == types["id_type"] == "integer"


def cases() -> list[tuple[str, tuple[str, ...]]]:
    return [(action, group) for action, groups in NEEDS.items() for group in groups]


@pytest.mark.parametrize(("action", "group"), cases(),
                         ids=[f"{a}-{'|'.join(g)}" for a, g in cases()])
@pytest.mark.parametrize("absent", ["missing", "null", "blank"])
def test_both_checks_refuse_a_decision_without_a_key_its_action_needs(
        action: str, group: tuple[str, ...], absent: str, db_params: dict[str, Any]) -> None:
    decision = {k: v for k, v in FULL[action].items() if k not in group}
    if absent != "missing":
        decision.update({k: None if absent == "null" else "  " for k in group})
    assert missing(decision) == [group_words(group)]
    error = refusal(db_params, decision)
    assert error.pgcode == "22023"  # invalid_parameter_value
    message = error.diag.message_primary
    assert message == f"submit_decision: {action} needs {group_words(group)}"
    assert error.diag.column_name == group[0]
    said = python_says(decision)  # refused too, naming the group (or a blank id's type)
    assert said is not None and any(k in said for k in group), said


def test_every_missing_key_is_named_at_once(db_params: dict[str, Any]) -> None:
    decision = {"ticker": "AAPL", "primary_action": "amend", "side": "BUY",
                "trade_style": "SWING", "entry_price": "180.00"}
    message = refusal(db_params, decision).diag.message_primary
    assert message == ("submit_decision: AMEND needs stop_loss; one of quantity, risk_amount, "
                       "risk_pct; one of existing_order_id, existing_trade_journal_id")


@pytest.mark.parametrize(("decision", "field", "words"), [
    (None, None, "must be a JSON object, not SQL NULL"),
    ([FULL["NO_ACTION"]], None, "must be a JSON object, not array"),
    ('{"ticker": "AAPL"}', None, "must be a JSON object, not string"),  # stringified twice
    ({"ticker": "AAPL"}, "primary_action",
     "primary_action must be one of NEW_TRADE, CANCEL, AMEND, NO_ACTION (got nothing)"),
    ({"ticker": "AAPL", "primary_action": "BUY"}, "primary_action", '(got "BUY")'),
    ({"ticker": "AAPL", "primary_action": 3}, "primary_action", "(got 3)"),
    ({"primary_action": "NO_ACTION"}, "ticker", "ticker must be a non-empty string (got nothing)"),
    ({"primary_action": "NO_ACTION", "ticker": " "}, "ticker", 'got " "'),
    ({"primary_action": "NO_ACTION", "ticker": ["AAPL"]}, "ticker", 'got ["AAPL"]'),
    ({**FULL["CANCEL"], "existing_trade_journal_id": "seven"}, "existing_trade_journal_id",
     'existing_trade_journal_id must be a whole number (got "seven")'),
    ({**FULL["NO_ACTION"], "existing_trade_journal_id": 1.5}, "existing_trade_journal_id",
     "(got 1.5)"),
])
def test_bad_structure_is_refused_with_the_field_named(
        decision: Any, field: str | None, words: str, db: TradingDB,
        db_params: dict[str, Any]) -> None:
    error = refusal(db_params, decision)
    assert error.pgcode == "22023"
    assert words in str(error.diag.message_primary)
    assert error.diag.column_name == field
    assert db.execute_query("SELECT count(*) AS n FROM analysis_decision", [])[0]["n"] == 0


def test_values_are_the_executors_to_judge(db: TradingDB, db_params: dict[str, Any]) -> None:
    # Off the tick, a side that does not exist, two sizes: the structure is there, so the row
    # is written, and the executor ends it REJECTED with its reason.
    decision = {**FULL["NEW_TRADE"], "entry_price": "175.005", "side": "SIDEWAYS",
                "risk_pct": "1"}
    new_id = submit(db_params, decision)
    row = db.get_by_id("analysis_decision", new_id)
    assert row is not None
    with pytest.raises(DecisionInvalid, match="entry_price"):
        parse_decision(row)


def test_plain_inserts_still_work(db: TradingDB) -> None:
    db.execute_update(
        "INSERT INTO analysis_decision (ticker, primary_action, decision) "
        "VALUES ('MSFT', 'NO_ACTION', '{\"ticker\": \"MSFT\", \"primary_action\": "
        "\"NO_ACTION\"}')", [])
    [row] = db.query("analysis_decision", {"ticker": "MSFT"})
    assert parse_decision(row).ticker == "MSFT"


def make_role(params: dict[str, Any], *grants: str) -> dict[str, Any]:
    role = f"tm_n8n_test_{next(_roles)}_{params['dbname'][-12:].lower()}"
    conn = connect(params)
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'x'").format(sql.Identifier(role)))
            for grant in grants:
                cur.execute(sql.SQL(grant).format(role=sql.Identifier(role)))
    finally:
        conn.close()
    return {**params, "user": role, "password": "x"}


def drop_role(params: dict[str, Any], role: str) -> None:
    conn = connect(params)
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP OWNED BY {0}; DROP ROLE {0}").format(sql.Identifier(role)))
    finally:
        conn.close()


# As the NocoDB role: it reads (RETURNING id needs SELECT) and inserts decisions.
WRITER = ("GRANT SELECT, INSERT ON analysis_decision TO {role}",
          "GRANT USAGE ON SEQUENCE analysis_decision_id_seq TO {role}")


def test_execute_is_not_public_and_it_runs_as_the_caller(
        db: TradingDB, db_params: dict[str, Any]) -> None:
    [fn] = db.execute_query(
        "SELECT prosecdef, proconfig, "
        "       has_function_privilege('public', oid, 'EXECUTE') AS public_may "
        "FROM pg_proc WHERE oid = 'submit_decision(jsonb)'::regprocedure", [])
    assert fn["prosecdef"] is False  # SECURITY INVOKER
    assert fn["proconfig"] == ["search_path=public, pg_temp"]
    assert fn["public_may"] is False

    stranger = make_role(db_params)  # may neither execute nor insert
    granted_only = make_role(db_params, "GRANT EXECUTE ON FUNCTION submit_decision(jsonb) "
                                        "TO {role}")  # execute, but no INSERT of its own
    try:
        assert "permission denied for function submit_decision" in str(
            refusal(stranger, FULL["NO_ACTION"]))
        assert "permission denied for table analysis_decision" in str(
            refusal(granted_only, FULL["NO_ACTION"]))
    finally:
        drop_role(db_params, stranger["user"])
        drop_role(db_params, granted_only["user"])


def test_the_migration_grants_it_to_every_role_that_may_insert_a_decision(
        db: TradingDB, db_params: dict[str, Any]) -> None:
    writer = make_role(db_params, *WRITER)
    reader = make_role(db_params, "GRANT SELECT ON analysis_decision TO {role}")
    try:
        conn = connect(db_params)  # again, as on a database whose NocoDB role came first
        try:
            with conn.cursor() as cur:
                cur.execute(MIGRATION.read_text(encoding="utf-8"))
        finally:
            conn.close()
        may = {r["rolname"]: r["ok"] for r in db.execute_query(
            "SELECT rolname, has_function_privilege(oid, 'submit_decision(jsonb)', 'EXECUTE') "
            "AS ok FROM pg_roles WHERE rolname = ANY (%s)", [[writer["user"], reader["user"]]])}
        assert may == {writer["user"]: True, reader["user"]: False}
        new_id = submit(writer, FULL["NEW_TRADE"])
        assert db.get_by_id("analysis_decision", new_id) is not None
    finally:
        drop_role(db_params, writer["user"])
        drop_role(db_params, reader["user"])
