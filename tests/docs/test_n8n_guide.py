"""docs/n8n.md's SQL, run as n8n runs it, against a real trade made by the real executor.

Each statement is taken from the guide (its block's info string names it: ```sql lookup,
```sql new_trade ...), its `$1`, `$2` bound as n8n's Query Parameters bind them, and run on
a migrated database; the executor then runs against the paper exchange. The INSERTs must
give decisions the executor carries out, and the look-up must return the live trade's ids.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extras
import pytest

from tests.docs.test_docs_commands import fenced_blocks
from tests.helpers import orders_at_broker, outcome
from tests.support.jobs import Jobs
from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.db.connection import TradingDB
from trading_monitor.paper_exchange import PaperExchange

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "n8n.md"
NAMES = ("lookup", "submit", "new_trade", "no_action", "amend", "cancel", "outcome")


def guide_sql() -> dict[str, str]:
    blocks = {b.flags[0]: b.text for b in fenced_blocks(GUIDE)
              if b.language == "sql" and b.flags}
    assert set(NAMES) <= set(blocks), f"docs/n8n.md lacks sql blocks {set(NAMES) - set(blocks)}"
    return blocks


def n8n(db_params: dict[str, Any], statement: str, *params: Any) -> list[dict[str, Any]]:
    """Run one statement with `$n` bound to params[n-1], in its own committed transaction."""
    used = {int(n) for n in re.findall(r"\$(\d+)", statement)}
    assert used == set(range(1, len(params) + 1)), f"parameters {sorted(used)} vs {params}"
    query = re.sub(r"\$(\d+)", r"%(p\1)s", statement.replace("%", "%%"))
    conn = psycopg2.connect(**{k: v for k, v in db_params.items() if v not in (None, "")})
    try:
        with conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute(query, {f"p{i}": value for i, value in enumerate(params, 1)})
            return [dict(r) for r in cur.fetchall()] if cur.description else []
    finally:
        conn.close()


@pytest.fixture
def sql() -> dict[str, str]:
    return guide_sql()


def test_the_guide_has_every_statement_and_no_interpolation(sql: dict[str, str]) -> None:
    for name in NAMES:
        assert "{{" not in sql[name] and "%s" not in sql[name], name
    assert "$1" in sql["lookup"] and "$2" in sql["cancel"] and "$2" in sql["amend"]


def test_each_insert_is_a_decision_the_executor_takes_on_the_lookups_trade(
        sql: dict[str, str], db: TradingDB, db_params: dict[str, Any], jobs: Jobs,
        exchange: PaperExchange) -> None:
    exchange.control.set_price("AAPL", Decimal("185.00"))  # the 180.00 entry rests unfilled
    assert n8n(db_params, sql["lookup"], "AAPL") == []

    [new] = n8n(db_params, sql["new_trade"])
    jobs.executor()
    opened = outcome(db, new["id"])
    assert opened["terminal_state"] == "EXECUTED", opened["reason"]
    [entry] = orders_at_broker(exchange, opened["client_order_id"])
    assert entry["status"] == "new" and entry["order_class"] == "bracket"

    [found] = n8n(db_params, sql["lookup"], "aapl")
    assert found["existing_trade_journal_id"] == opened["trade_journal_id"]
    assert found["existing_order_id"] == entry["id"]
    assert (found["status"], found["side"], found["planned_entry_price"]) == (
        "PENDING", "buy", Decimal("180.00"))
    row = db.get_by_id("analysis_decision", new["id"])
    assert row is not None
    assert (row["existing_trade_journal_id"], row["existing_order_id"]) == (
        found["existing_trade_journal_id"], found["existing_order_id"])

    [aged] = n8n(db_params, sql["no_action"], found["existing_trade_journal_id"])
    jobs.executor()
    assert outcome(db, aged["id"])["terminal_state"] == "EXECUTED"
    [still] = n8n(db_params, sql["lookup"], "AAPL")
    assert still["existing_trade_journal_id"] == found["existing_trade_journal_id"]
    assert still["days_open"] == 1

    [amend] = n8n(db_params, sql["amend"], still["existing_trade_journal_id"],
                  still["existing_order_id"])
    jobs.executor()
    amended = outcome(db, amend["id"])
    assert amended["terminal_state"] == "EXECUTED", amended["reason"]
    assert orders_at_broker(exchange, opened["client_order_id"])[0]["status"] == "canceled"
    [replacement] = n8n(db_params, sql["lookup"], "AAPL")
    assert replacement["existing_trade_journal_id"] != still["existing_trade_journal_id"]
    assert replacement["planned_entry_price"] == Decimal("178.50")
    [new_entry] = [o for o in orders_at_broker(exchange) if o["id"] ==
                   replacement["existing_order_id"]]
    assert new_entry["status"] == "new" and Decimal(new_entry["limit_price"]) == Decimal("178.50")

    [cancel] = n8n(db_params, sql["cancel"], replacement["existing_trade_journal_id"],
                   replacement["existing_order_id"])
    jobs.executor()
    [read] = n8n(db_params, sql["outcome"], cancel["id"])
    assert read["executed"] is True and read["terminal_state"] == "EXECUTED", read["reason"]
    assert read["trade_journal_id"] == replacement["existing_trade_journal_id"]
    assert [o["status"] for o in orders_at_broker(exchange) if o["id"] ==
            replacement["existing_order_id"]] == ["canceled"]
    assert n8n(db_params, sql["lookup"], "AAPL") == []  # nothing open any more
    trades = db.query("trade_journal", {"symbol": "AAPL"})
    assert sorted(t["status"] for t in trades) == ["CANCELLED", "CANCELLED"]


def test_the_lookup_finds_a_filled_trade_as_a_position(
        sql: dict[str, str], db: TradingDB, db_params: dict[str, Any], broker: AlpacaBroker,
        jobs: Jobs, exchange: PaperExchange) -> None:
    # At 180.00 the entry is marketable: it fills, and CANCEL/AMEND no longer apply.
    [new] = n8n(db_params, sql["new_trade"])
    jobs.executor()
    jobs.order_monitor()  # books the fill
    [found] = n8n(db_params, sql["lookup"], "AAPL")
    assert found["status"] == "POSITION"
    assert found["existing_trade_journal_id"] == outcome(db, new["id"])["trade_journal_id"]
    [cancel] = n8n(db_params, sql["cancel"], found["existing_trade_journal_id"],
                   found["existing_order_id"])
    jobs.executor()
    [read] = n8n(db_params, sql["outcome"], cancel["id"])
    assert read["terminal_state"] == "REJECTED" and "already filled" in read["reason"]
    assert [p.qty for p in broker.get_positions()] == [Decimal(10)]


def test_the_submit_statement_takes_the_whole_decision_as_one_parameter(
        sql: dict[str, str], db: TradingDB, db_params: dict[str, Any], jobs: Jobs,
        exchange: PaperExchange) -> None:
    # As n8n binds {{ [JSON.stringify($json)] }}: one string, commas and quotes included.
    decision = {"ticker": "AAPL", "primary_action": "NEW_TRADE", "side": "BUY",
                "trade_style": "SWING", "entry_price": "180.00", "stop_loss": "171.00",
                "take_profit": "198.00", "quantity": 10,
                "reasoning": "breakout, retest; it's \"clean\" — 上昇"}
    [new] = n8n(db_params, sql["submit"], json.dumps(decision, ensure_ascii=False))
    jobs.executor()
    assert outcome(db, new["decision_id"])["terminal_state"] == "EXECUTED"
    row = db.get_by_id("analysis_decision", new["decision_id"])
    assert row is not None and row["decision"] == decision and row["ticker"] == "AAPL"
