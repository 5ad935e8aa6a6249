#!/usr/bin/env python3
"""Create trading-monitor's tables in the production (NocoDB) database; see docs/database-setup.md.

    python scripts/create_production_tables.py --dry-run   # print the SQL only
    python scripts/create_production_tables.py             # apply it
    python scripts/create_production_tables.py --with-updated-at-trigger
        # also keep analysis_decision.updated_at current by a trigger (NocoDB's table: only
        # when asked; it says so when it adds it)
"""

from trading_monitor.cli.production_tables import main

if __name__ == "__main__":
    raise SystemExit(main())
