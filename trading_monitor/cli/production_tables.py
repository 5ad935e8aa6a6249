"""Create our tables beside an existing n8n/NocoDB `analysis_decision`, keeping its data.

It never creates analysis_decision: production owns it. It adds the four seed columns
(existing_order_id, existing_trade_journal_id, executed, execution_time) idempotently.
With --with-updated-at-trigger it also keeps analysis_decision.updated_at current by a
trigger (adding the column if missing), as on our own tables; only when asked, because the
table is NocoDB's own.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from trading_monitor.cli.common import EXIT_FAILED, EXIT_OK, handles_errors, setup_logging
from trading_monitor.db import migrate
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.params import get_postgres_config
from trading_monitor.db.queries import Queries
from trading_monitor.settings.config import load_settings

QUERIES = Queries(__name__)  # queries.sql beside this module

# Columns the executor reads that n8n must provide (docs/decision-contract.md).
CONTRACT_COLUMNS = ("ticker", "decision")

UPDATED_AT_TRIGGER = "trg_analysis_decision_updated_at"
# The same trigger the development path gets from 0009_nocodb.sql (tm_set_updated_at: 0003).
UPDATED_AT_TRIGGER_SQL = f"""
ALTER TABLE analysis_decision ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL
    DEFAULT now();
DROP TRIGGER IF EXISTS {UPDATED_AT_TRIGGER} ON analysis_decision;
CREATE TRIGGER {UPDATED_AT_TRIGGER} BEFORE UPDATE ON analysis_decision
    FOR EACH ROW EXECUTE FUNCTION tm_set_updated_at();
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="create_production_tables.py", description=__doc__)
    parser.add_argument("--dry-run", action="store_true", help="print the SQL, change nothing")
    parser.add_argument("--test-mode", action="store_true", help="target the test database")
    parser.add_argument("--with-updated-at-trigger", action="store_true",
                        help="also keep analysis_decision.updated_at current by a trigger "
                             "(adds the column if missing); NocoDB owns that table, so only "
                             "when asked")
    return parser


def _columns(db: TradingDB, table: str) -> set[str]:
    rows = db.execute_query(
        QUERIES["analysis_decision_columns"], [table])
    return {r["column_name"] for r in rows}


def _has_updated_at_trigger(db: TradingDB) -> bool:
    return bool(db.execute_query(
        QUERIES["updated_at_trigger_exists"], [UPDATED_AT_TRIGGER]))


def run(db: TradingDB, *, dry_run: bool, with_updated_at_trigger: bool = False) -> int:
    existing = _columns(db, "analysis_decision")
    if not existing:
        print("refusing: table analysis_decision does not exist. Production already has it "
              "(n8n writes it); this script never creates it. For development use "
              "`trading-monitor migrate --test-mode`.", file=sys.stderr)
        return EXIT_FAILED
    missing_contract = [c for c in CONTRACT_COLUMNS if c not in existing]
    if missing_contract:
        print("warning: analysis_decision lacks " + ", ".join(missing_contract) +
              "; the executor reads them (see docs/decision-contract.md)", file=sys.stderr)
    pending = migrate.pending_migrations(db.connection, production=True)
    if dry_run:
        for m in pending:
            print(f"-- migration {m.version}_{m.name}\n{m.sql}")
        if not pending:
            print("-- nothing to do: schema is up to date")
        if with_updated_at_trigger:
            print(f"-- --with-updated-at-trigger (analysis_decision is NocoDB's table)"
                  f"{UPDATED_AT_TRIGGER_SQL}")
        return EXIT_OK
    applied = db.create_schema(production=True)
    print("applied migrations: " + (", ".join(applied) if applied else "none (up to date)"))
    if with_updated_at_trigger:
        added_column = "updated_at" not in existing
        with db.transaction():
            db.execute_update(UPDATED_AT_TRIGGER_SQL)
        print(("added column analysis_decision.updated_at; " if added_column else "") +
              f"trigger {UPDATED_AT_TRIGGER} now keeps analysis_decision.updated_at current "
              "(asked for with --with-updated-at-trigger: the table is NocoDB's own)")
    elif not _has_updated_at_trigger(db):
        print("analysis_decision.updated_at is not kept by a trigger (the table is NocoDB's "
              "own); add --with-updated-at-trigger to add one")
    return EXIT_OK


@handles_errors
def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = load_settings()
    setup_logging(settings.log_level)
    config = get_postgres_config(test_mode=args.test_mode, settings=settings)
    with TradingDB(test_mode=args.test_mode, config=config) as db:
        return run(db, dry_run=args.dry_run,
                   with_updated_at_trigger=args.with_updated_at_trigger)
