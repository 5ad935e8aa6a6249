"""Versioned migrations: order, idempotence, registry agreement, NocoDB-friendly shape."""

from __future__ import annotations

import threading

import psycopg2
import pytest

from trading_monitor.db import migrate
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.schema import TABLES, VIEWS

SCHEMA_DUMP = """
SELECT c.table_name, c.column_name, c.data_type, c.is_nullable, c.column_default
FROM information_schema.columns c
WHERE c.table_schema = 'public' AND c.table_name <> 'schema_migrations'
ORDER BY 1, 2
"""
INDEX_DUMP = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"


def test_migrations_twice_leave_identical_schema(empty_db_params) -> None:
    db = TradingDB(config=empty_db_params).connect()
    assert db.create_schema() == [m.version for m in migrate.load_migrations()]
    first = (db.execute_query(SCHEMA_DUMP), db.execute_query(INDEX_DUMP))
    assert db.create_schema() == []
    # Re-running every file by hand must also be harmless (seed 000: idempotent SQL).
    for m in migrate.load_migrations():
        db.execute_update(m.sql)
    assert (db.execute_query(SCHEMA_DUMP), db.execute_query(INDEX_DUMP)) == first
    versions = [r["version"] for r in
                db.execute_query("SELECT version FROM schema_migrations ORDER BY 1")]
    assert versions == [m.version for m in migrate.load_migrations()]  # each file once
    db.close()


def test_concurrent_migrators_apply_each_version_once(empty_db_params) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            TradingDB(config=empty_db_params).connect().create_schema()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    db = TradingDB(config=empty_db_params).connect()
    assert db.execute_query("SELECT count(*) AS n FROM schema_migrations")[0]["n"] == len(
        migrate.load_migrations())


def test_registry_matches_database(db: TradingDB) -> None:
    rows = db.execute_query(SCHEMA_DUMP)
    actual: dict[str, set[str]] = {}
    for r in rows:
        actual.setdefault(r["table_name"], set()).add(r["column_name"])
    assert actual == {t: set(c) for t, c in {**TABLES, **VIEWS}.items()}


def test_every_table_has_integer_identity_id_and_audit_times(db: TradingDB) -> None:
    rows = db.execute_query("""
        SELECT t.table_name,
               (SELECT array_agg(a.attname) FROM pg_index i
                  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                 WHERE i.indrelid = t.table_name::regclass AND i.indisprimary) AS pk,
               (SELECT data_type FROM information_schema.columns c
                 WHERE c.table_name = t.table_name AND c.column_name = 'id') AS id_type,
               (SELECT data_type FROM information_schema.columns c
                 WHERE c.table_name = t.table_name AND c.column_name = 'created_at') AS created
        FROM information_schema.tables t
        WHERE t.table_schema = 'public' AND t.table_type = 'BASE TABLE'""")
    for r in rows:
        assert r["pk"] == ["id"], r
        assert r["id_type"] == "integer", r
        assert r["created"] == "timestamp with time zone", r
        assert not r["table_name"].startswith("nc_")


def test_money_columns_are_numeric_and_times_timestamptz(db: TradingDB) -> None:
    rows = db.execute_query("""
        SELECT table_name, column_name, data_type FROM information_schema.columns
        WHERE table_schema = 'public' AND (column_name LIKE '%%price%%' OR column_name LIKE '%%pnl'
           OR column_name IN ('cash', 'equity', 'buying_power', 'start_equity', 'qty')
           OR column_name LIKE '%%_at' OR column_name LIKE '%%_date' OR column_name LIKE '%%_time')
    """)
    assert rows
    for r in rows:
        if r["column_name"].endswith(("_at", "_date", "_time")):
            allowed = {"timestamp with time zone", "date"}
        else:
            allowed = {"numeric"}
        assert r["data_type"] in allowed, r


def test_event_log_is_append_only(db: TradingDB) -> None:
    row_id = db.insert("event_log", {"entity": "trade_journal", "event": "created"})
    with pytest.raises(psycopg2.errors.RaiseException):
        db.update("event_log", row_id, {"event": "edited"})
    with pytest.raises(psycopg2.errors.RaiseException):
        db.execute_update("DELETE FROM event_log WHERE id = %s", [row_id])
    assert db.get_by_id("event_log", row_id)["event"] == "created"


def test_one_terminal_state_per_decision(db: TradingDB) -> None:
    db.insert("decision_outcome", {"run_id": "r", "analysis_decision_id": 1,
                                   "terminal_state": "EXECUTED", "reason": "ok"})
    with pytest.raises(psycopg2.errors.UniqueViolation):
        db.insert("decision_outcome", {"run_id": "r", "analysis_decision_id": 1,
                                       "terminal_state": "REJECTED", "reason": "again"})
    with pytest.raises(psycopg2.errors.CheckViolation):
        db.insert("decision_outcome", {"run_id": "r", "analysis_decision_id": 2,
                                       "terminal_state": "EXECUTED", "reason": ""})


def test_no_foreign_keys_after_migration(db: TradingDB) -> None:
    assert db.execute_query(
        "SELECT conname FROM pg_constraint WHERE contype = 'f'") == []


def test_updated_at_is_kept_by_the_database_on_our_tables(db: TradingDB) -> None:
    rows = db.execute_query("SELECT tgrelid::regclass::text AS t FROM pg_trigger "
                            "WHERE tgname LIKE 'trg_%%_updated_at'")
    assert {r["t"] for r in rows} == set(TABLES) - {"event_log"}
    row_id = db.insert("system_state", {"key": "k", "value": "1"})
    before = db.get_by_id("system_state", row_id)["updated_at"]
    db.execute_query("SELECT pg_sleep(0.01)")
    db.update("system_state", row_id, {"value": "2"})
    assert db.get_by_id("system_state", row_id)["updated_at"] > before


def test_seed_indices_exist(db: TradingDB) -> None:
    indexed = {(r["tablename"], r["indexdef"].rsplit("(", 1)[1].rstrip(")"))
               for r in db.execute_query("SELECT tablename, indexdef FROM pg_indexes "
                                         "WHERE schemaname = 'public'")}
    for pair in [("analysis_decision", "executed"), ("analysis_decision", "ticker"),
                 ("trade_journal", "status"), ("trade_journal", "symbol"),
                 ("trade_journal", "initial_analysis_id"), ("order_execution", "order_status"),
                 ("order_execution", "trade_journal_id"), ("position_tracking", "symbol"),
                 ("position_tracking", "trade_journal_id")]:
        assert pair in indexed, pair
