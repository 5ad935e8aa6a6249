"""The benchmark: the real jobs against the paper exchange, with 50 ms added to every request,
beside the seed's polling plan run on the same book. A benchmark, not a test.

    python scripts/benchmark.py                  # the full run (N = 10, 100, 1,000; five days)
    python scripts/benchmark.py --quick          # N = 10 and 100, fewer samples, three days
    python scripts/benchmark.py --only monitor,positions --sizes 10,100 --out /tmp/perf.md
    python scripts/benchmark.py --executor-only --decisions 100   # the old benchmark_executor.py

It writes docs/performance.md (one table per measurement, each figure also as a ratio to the
seed's plan, the machine and the command). Measurements (`--only`): monitor, positions,
executor, capacity (the executor with no rate limit), window, daemon. The paper exchange runs
in its own process with a stepped clock; PostgreSQL is embedded unless TEST_DATABASE_URL is
set. The full run takes about 14 minutes on 2 cores, --quick about 2.

The baseline is seed 002's plan (TASK-011 and TASK-014): poll Alpaca once per pending order
(GET /v2/orders/{id}) and once per open position (the latest trade of its symbol). It lives
here, in the benchmark, never in the product.

The package, by meaning: lab (PostgreSQL, the exchange process, settings, brokers),
costs (what a run costs: requests, round trips, wall time), book (decisions and books),
baseline (the seed's plan), monitors, executor, window, daemon (the measurements),
report and sections (docs/performance.md), main (the command). `python
scripts/benchmark.py` is the entry point.
"""
