#!/usr/bin/env python3
"""Kept for old habits: the executor benchmark now lives in scripts/benchmark.py.

    python scripts/benchmark_executor.py                 # = benchmark.py --executor-only
    python scripts/benchmark_executor.py --decisions 300 --latency-ms 0

N NEW_TRADE decisions in one cycle, no rate limit, 50 ms per request by default; prints the
wall time and the requests per decision as JSON. The full benchmark (monitors, the executor
under the 200/min limit, the unprotected window, the daemon over five days, each beside the
seed's polling plan) is `python scripts/benchmark.py`; it writes docs/performance.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmark import main

if __name__ == "__main__":
    raise SystemExit(main(["--executor-only", *sys.argv[1:]]))
