#!/usr/bin/env python3
"""The invariant checker: `python scripts/check_invariants.py [--json] [--no-broker]`.

Exit 0 every invariant holds, 1 a violation, 2 configuration, 3 could not read the books or
the broker. The same as `trading-monitor check`; see docs/invariants.md.
"""

from __future__ import annotations

from trading_monitor.invariants.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
