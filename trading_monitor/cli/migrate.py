"""`trading-monitor migrate [--test-mode]`: bring the schema up to date.

With --test-mode and no test database configured, an embedded throwaway PostgreSQL is
started, migrated, shown and removed: a safe first command on a fresh machine.

Exit codes: 0 migrated (or already current); 1 fatal; 2 configuration; 3 the database is
unreachable (run it again).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from trading_monitor.cli.common import EXIT_OK, handles_errors, setup_logging
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.embedded_pg import EmbeddedPostgres
from trading_monitor.db.params import get_postgres_config
from trading_monitor.db.queries import Queries
from trading_monitor.settings.config import has_test_database, load_settings

QUERIES = Queries(__name__)  # queries.sql beside this module


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trading-monitor migrate", description=__doc__)
    parser.add_argument("--test-mode", action="store_true",
                        help="use the test database (embedded throwaway one if none is set)")
    return parser


def _migrate_and_report(db: TradingDB) -> None:
    applied = db.create_schema()
    print("applied migrations: " + (", ".join(applied) if applied else "none (up to date)"))
    rows = db.execute_query(
        QUERIES["public_tables"]
    )
    # NocoDB's views are not tables: a reader looking for where to write must not be misled.
    print("tables: " + ", ".join(r["table_name"] for r in rows if r["table_type"] != "VIEW"))
    print("views: " + ", ".join(r["table_name"] for r in rows if r["table_type"] == "VIEW"))


@handles_errors
def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = load_settings()
    setup_logging(settings.log_level)
    if args.test_mode and not has_test_database(settings):
        print("no test database configured: using an embedded throwaway PostgreSQL")
        with EmbeddedPostgres() as server, TradingDB(config=server.params) as db:
            _migrate_and_report(db)
        return EXIT_OK
    config = get_postgres_config(test_mode=args.test_mode, settings=settings)
    with TradingDB(test_mode=args.test_mode, config=config) as db:
        _migrate_and_report(db)
    return EXIT_OK
