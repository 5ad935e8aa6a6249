#!/usr/bin/env python3
"""Nagios-style health check: `python scripts/health_check.py [--json] [--no-broker]`.

Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. The same as `trading-monitor health`; see
docs/operations.md.
"""

from __future__ import annotations

from trading_monitor.cli.health import main

if __name__ == "__main__":
    raise SystemExit(main())
