#!/usr/bin/env python3
"""The benchmark's entry point: the real jobs against the paper exchange, beside the seed's
polling plan on the same book. A benchmark, not a test; it writes docs/performance.md.

    python scripts/benchmark.py                  # the full run (N = 10, 100, 1,000; five days)
    python scripts/benchmark.py --quick          # N = 10 and 100, fewer samples, three days
    python scripts/benchmark.py --help           # every option

The code is the package scripts/bench/ (lab, costs, book, baseline, monitors, executor,
window, daemon, report, sections, main); the names other scripts import are re-exported here.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.bench.book import add_decision, build_book
from scripts.bench.costs import pct
from scripts.bench.lab import (
    PRICE,
    SYMBOLS,
    Databases,
    Exchange,
    Lab,
    settings_for,
    unlimited_broker,
)
from scripts.bench.main import main

__all__ = ["PRICE", "SYMBOLS", "Databases", "Exchange", "Lab", "add_decision", "build_book",
           "main", "pct", "settings_for", "unlimited_broker"]

if __name__ == "__main__":
    raise SystemExit(main())
