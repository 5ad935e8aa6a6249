"""The production path: our tables beside an existing n8n analysis_decision, data kept."""

from __future__ import annotations

import psycopg2

from trading_monitor.cli.production_tables import run
from trading_monitor.db.connection import TradingDB

N8N_TABLE = """
CREATE TABLE analysis_decision (
    id serial PRIMARY KEY,
    "CreatedAt" timestamptz DEFAULT now(),
    ticker text,
    decision text,
    n8n_workflow text,
    score numeric
);
INSERT INTO analysis_decision (ticker, decision, n8n_workflow, score)
SELECT 'T' || g, '{"primary_action": "NO_ACTION"}', 'wf-1', g FROM generate_series(1, 25) g;
"""


def test_refuses_to_create_analysis_decision(empty_db_params, capsys) -> None:
    db = TradingDB(config=empty_db_params).connect()
    assert run(db, dry_run=False) == 1
    assert "refusing" in capsys.readouterr().err
    assert db.execute_query("SELECT to_regclass('analysis_decision') AS t")[0]["t"] is None
    assert db.execute_query("SELECT to_regclass('trade_journal') AS t")[0]["t"] is None


def test_adds_columns_and_tables_keeping_every_row(empty_db_params) -> None:
    db = TradingDB(config=empty_db_params).connect()
    db.execute_update(N8N_TABLE)
    before = db.execute_query("SELECT * FROM analysis_decision ORDER BY id")
    assert run(db, dry_run=False) == 0
    assert run(db, dry_run=False) == 0  # idempotent
    after = db.execute_query(
        "SELECT id, \"CreatedAt\", ticker, decision, n8n_workflow, score "
        "FROM analysis_decision ORDER BY id")
    assert after == before
    flags = db.execute_query("SELECT DISTINCT executed, existing_order_id FROM analysis_decision")
    assert flags == [{"executed": False, "existing_order_id": None}]
    tables = {r["t"] for r in db.execute_query(
        "SELECT table_name AS t FROM information_schema.tables WHERE table_schema='public'")}
    assert {"trade_journal", "order_execution", "position_tracking", "decision_outcome",
            "job_run", "event_log", "broker_snapshot"} <= tables
    versions = [r["version"] for r in db.execute_query("SELECT version FROM schema_migrations")]
    assert "0001" not in versions  # the dev-only creation never ran
    assert db.named("foreign_keys") == []


def test_dry_run_prints_sql_and_changes_nothing(empty_db_params, capsys) -> None:
    db = TradingDB(config=empty_db_params).connect()
    db.execute_update(N8N_TABLE)
    assert run(db, dry_run=True) == 0
    out = capsys.readouterr().out
    assert "ALTER TABLE analysis_decision ADD COLUMN IF NOT EXISTS executed" in out
    assert "CREATE TABLE analysis_decision" not in out.replace("IF NOT EXISTS ", "")
    assert db.execute_query("SELECT to_regclass('trade_journal') AS t")[0]["t"] is None
    cols = [r["column_name"] for r in db.execute_query(
        "SELECT column_name FROM information_schema.columns WHERE table_name='analysis_decision'")]
    assert "executed" not in cols


def test_warns_when_contract_columns_missing(empty_db_params, capsys) -> None:
    conn = psycopg2.connect(**{k: v for k, v in empty_db_params.items() if v})
    with conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE analysis_decision (id serial PRIMARY KEY, ticker text)")
    conn.close()
    db = TradingDB(config=empty_db_params).connect()
    assert run(db, dry_run=False) == 0
    assert "lacks decision" in capsys.readouterr().err
