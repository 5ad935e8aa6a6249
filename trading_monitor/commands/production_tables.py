"""Create our tables beside an existing n8n/NocoDB `analysis_decision`, keeping its data.

It never creates analysis_decision: production owns it. It adds the four seed columns
(existing_order_id, existing_trade_journal_id, executed, execution_time) idempotently.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from trading_monitor.commands.common import EXIT_FAILED, EXIT_OK, handles_errors, setup_logging
from trading_monitor.config import get_postgres_config, load_settings
from trading_monitor.db import migrate
from trading_monitor.db_layer import TradingDB

# Columns the executor reads that n8n must provide (docs/decision-contract.md).
CONTRACT_COLUMNS = ("ticker", "decision")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="create_production_tables.py", description=__doc__)
    parser.add_argument("--dry-run", action="store_true", help="print the SQL, change nothing")
    parser.add_argument("--test-mode", action="store_true", help="target the test database")
    return parser


def _columns(db: TradingDB, table: str) -> set[str]:
    rows = db.execute_query(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = %s", [table])
    return {r["column_name"] for r in rows}


def run(db: TradingDB, *, dry_run: bool) -> int:
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
        return EXIT_OK
    applied = db.create_schema(production=True)
    print("applied migrations: " + (", ".join(applied) if applied else "none (up to date)"))
    return EXIT_OK


@handles_errors
def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = load_settings()
    setup_logging(settings.log_level)
    config = get_postgres_config(test_mode=args.test_mode, settings=settings)
    with TradingDB(test_mode=args.test_mode, config=config) as db:
        return run(db, dry_run=args.dry_run)
