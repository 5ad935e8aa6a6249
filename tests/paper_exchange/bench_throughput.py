"""Measure requests/second the paper exchange serves on loopback (run manually, not by pytest).

    .venv/bin/python -m tests.paper_exchange.bench_throughput [--requests 6000] [--threads 8]

Alternates GET /v2/account and GET /v2/orders over keep-alive sessions from a thread pool.
"""

from __future__ import annotations

import argparse
import http.client
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone
from urllib.parse import urlsplit

from trading_monitor.paper_exchange import PaperExchange

HEADERS = {"APCA-API-KEY-ID": "bench", "APCA-API-SECRET-KEY": "bench"}


@contextmanager
def served(in_process: bool) -> Iterator[str]:
    """The exchange in its own process (as users run it), or in a thread of this one."""
    if in_process:
        start = datetime(2026, 11, 20, 14, 35, tzinfo=timezone.utc)
        with PaperExchange(seed=1, start=start, rate_limit_per_min=None).start() as ex:
            yield ex.url
        return
    proc = subprocess.Popen(
        [sys.executable, "-m", "trading_monitor.paper_exchange", "--port", "0",
         "--start", "2026-11-20T09:35:00-05:00", "--rate-limit", "0"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().split()[-1]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


def seed_orders(netloc: str, count: int) -> None:
    """Resting limit orders, so GET /v2/orders serializes a realistic page of 50."""
    conn = http.client.HTTPConnection(netloc, timeout=10)
    for i in range(count):
        body = json.dumps({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit",
                           "time_in_force": "gtc", "limit_price": str(100 + i)})
        conn.request("POST", "/v2/orders", body=body,
                     headers={**HEADERS, "Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200, resp.status
    conn.close()


def run(total: int, threads: int, in_process: bool = False) -> float:
    with served(in_process) as url:
        local = threading.local()
        netloc = urlsplit(url).netloc
        paths = ["/v2/account", "/v2/orders?status=all&limit=50"]

        def one(i: int) -> int:
            # http.client rather than requests: requests' own per-call overhead (~1 ms of GIL
            # time) would make this measure the client, not the exchange.
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = http.client.HTTPConnection(netloc, timeout=10)
            conn.request("GET", paths[i % 2], headers=HEADERS)
            resp = conn.getresponse()
            resp.read()
            return resp.status

        seed_orders(netloc, 50)
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(threads * 4)))  # warm up connections
            began = time.perf_counter()
            codes = list(pool.map(one, range(total)))
            elapsed = time.perf_counter() - began
    assert set(codes) == {200}, set(codes)
    return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--in-process", action="store_true",
                        help="serve from a thread of this process (shares the GIL with the "
                             "client threads, so it measures less than the exchange can do)")
    args = parser.parse_args()
    rate = run(args.requests, args.threads, args.in_process)
    where = "in-process" if args.in_process else "separate process"
    print(f"{args.requests} requests, {args.threads} threads, {where}: {rate:,.0f} requests/s")


if __name__ == "__main__":
    main()
