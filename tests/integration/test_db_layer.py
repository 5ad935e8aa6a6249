"""TradingDB against a real PostgreSQL database."""

from __future__ import annotations

from decimal import Decimal

import psycopg2
import pytest

from trading_monitor.db.connection import TradingDB
from trading_monitor.exceptions import DatabaseUnavailable, UnknownSchemaError


def _journal(**overrides):
    row = {"symbol": "AAPL", "side": "buy", "trade_style": "SWING", "protection_mode": "bracket",
           "planned_entry_price": Decimal("100.25"), "planned_qty": Decimal("10")}
    row.update(overrides)
    return row


def test_crud_round_trip(db: TradingDB) -> None:
    row_id = db.insert("trade_journal", _journal())
    row = db.get_by_id("trade_journal", row_id)
    assert row is not None
    assert row["symbol"] == "AAPL" and row["status"] == "PENDING"
    assert row["planned_entry_price"] == Decimal("100.25")
    assert row["created_at"].tzinfo is not None

    assert db.update("trade_journal", row_id, {"status": "CANCELLED", "exit_reason": "test"})
    updated = db.get_by_id("trade_journal", row_id)
    assert updated["status"] == "CANCELLED"
    assert updated["updated_at"] >= row["updated_at"]

    assert [r["id"] for r in db.query("trade_journal", {"status": "CANCELLED"})] == [row_id]
    assert db.query("trade_journal", {"status": "PENDING"}) == []
    assert db.query("trade_journal", {"notes": None})[0]["id"] == row_id
    assert db.execute_update("DELETE FROM trade_journal WHERE id = %s", [row_id]) == 1
    assert db.get_by_id("trade_journal", row_id) is None
    assert not db.update("trade_journal", row_id, {"status": "CLOSED"})


def test_execute_query_returns_dicts(db: TradingDB) -> None:
    assert db.execute_query("SELECT 1 AS value") == [{"value": 1}]


def test_query_orders_and_limits(db: TradingDB) -> None:
    ids = [db.insert("trade_journal", _journal(symbol=s)) for s in ("MSFT", "AAPL", "NVDA")]
    rows = db.query("trade_journal", order_by="symbol", limit=2)
    assert [r["symbol"] for r in rows] == ["AAPL", "MSFT"]
    assert sorted(r["id"] for r in db.query("trade_journal")) == sorted(ids)


def test_json_columns_store_dicts(db: TradingDB) -> None:
    row_id = db.insert("analysis_decision", {"ticker": "AAPL", "decision": {"a": [1, 2]}})
    assert db.get_by_id("analysis_decision", row_id)["decision"] == {"a": [1, 2]}


@pytest.mark.parametrize("table", ["trade_journal; DROP TABLE trade_journal", "pg_user", "",
                                   'trade_journal" --'])
def test_unknown_table_refused_before_sql(db: TradingDB, table: str) -> None:
    with pytest.raises(UnknownSchemaError):
        db.insert(table, {"symbol": "x"})
    with pytest.raises(UnknownSchemaError):
        db.query(table)
    with pytest.raises(UnknownSchemaError):
        db.get_by_id(table, 1)
    assert db.execute_query("SELECT count(*) AS n FROM trade_journal") == [{"n": 0}]


def test_unknown_or_readonly_column_refused(db: TradingDB) -> None:
    with pytest.raises(UnknownSchemaError):
        db.insert("trade_journal", {**_journal(), "x; DROP TABLE trade_journal": 1})
    with pytest.raises(UnknownSchemaError):
        db.query("trade_journal", {"symbol = symbol OR 1=1 --": "x"})
    with pytest.raises(UnknownSchemaError):
        db.query("trade_journal", order_by="id; DROP TABLE trade_journal")
    with pytest.raises(UnknownSchemaError):
        db.update("trade_journal", 1, {"id": 5})
    with pytest.raises(UnknownSchemaError):
        db.insert("trade_journal", {})


def test_injection_through_values_is_stored_literally(db: TradingDB) -> None:
    evil = "x'; DROP TABLE trade_journal; --"
    row_id = db.insert("trade_journal", _journal(symbol=evil, notes="x; DROP TABLE trade_journal"))
    assert db.get_by_id("trade_journal", row_id)["symbol"] == evil
    assert db.query("trade_journal", {"symbol": evil})[0]["id"] == row_id
    assert db.execute_query("SELECT to_regclass('trade_journal') IS NOT NULL AS present")[0][
        "present"]


def test_transaction_commits_or_rolls_back(db: TradingDB) -> None:
    with db.transaction():
        first = db.insert("trade_journal", _journal())
    with pytest.raises(RuntimeError), db.transaction():
        db.insert("trade_journal", _journal(symbol="MSFT"))
        raise RuntimeError("boom")
    assert [r["id"] for r in db.query("trade_journal")] == [first]


def test_check_constraint_violation_rolls_back_and_connection_stays_usable(db: TradingDB) -> None:
    with pytest.raises(psycopg2.errors.CheckViolation):
        db.insert("trade_journal", _journal(status="NOT_A_STATUS"))
    assert db.query("trade_journal") == []
    db.insert("trade_journal", _journal())
    assert len(db.query("trade_journal")) == 1


def test_dropped_connection_is_reopened_on_next_use(db: TradingDB, db_params) -> None:
    pid = db.execute_query("SELECT pg_backend_pid() AS pid")[0]["pid"]
    killer = TradingDB(config=db_params).connect()
    killer.execute_query("SELECT pg_terminate_backend(%s)", [pid])
    killer.close()
    with pytest.raises(DatabaseUnavailable):
        db.execute_query("SELECT 1 AS ok")
    assert db.execute_query("SELECT 1 AS ok") == [{"ok": 1}]
    db.ensure_connected()


def test_unreachable_server_is_a_temporary_error_without_password() -> None:
    db = TradingDB(config={"host": "127.0.0.1", "port": 1, "dbname": "x", "user": "u",
                           "password": "hunter2-secret"})
    with pytest.raises(DatabaseUnavailable) as info:
        db.connect()
    assert "hunter2-secret" not in str(info.value)
    assert "hunter2-secret" not in repr(db)


def test_no_foreign_keys_anywhere(db: TradingDB) -> None:
    assert db.named("foreign_keys") == []
