"""The command: `python scripts/benchmark.py [--quick] [--sizes ...] [--only ...] ...`."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from . import __doc__ as USAGE
from .daemon import daemon_child, measure_daemon
from .executor import measure_executor, measure_executor_capacity
from .lab import ROOT, Databases, Lab
from .monitors import measure_order_monitor, measure_position_monitor
from .report import Results, write_report
from .window import measure_bracket_window, measure_staged_window


def _log(message: str, started: float) -> None:
    print(f"[{time.perf_counter() - started:7.1f}s] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=USAGE,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="N = 10 and 100, fewer samples, three days (about two minutes)")
    parser.add_argument("--sizes", help="comma-separated N (default 10,100,1000)")
    parser.add_argument("--only", help="comma-separated: monitor, positions, executor, "
                                       "window, daemon, capacity (default: all)")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--time-scale", type=float, default=3.0,
                        help="speed-up of the rate limits for the executor (default 3)")
    parser.add_argument("--days", type=int, help="simulated trading days (default 5)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "performance.md"))
    parser.add_argument("--executor-only", action="store_true",
                        help="only the executor without a rate limit; print JSON")
    parser.add_argument("--decisions", type=int, default=100, help="with --executor-only")
    parser.add_argument("--verbose", action="store_true", help="the jobs' own log lines")
    parser.add_argument("--daemon-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    import logging

    if not args.verbose:
        logging.disable(logging.CRITICAL)
    if args.daemon_child:
        spec = json.loads(args.daemon_child)
        print(json.dumps(daemon_child(spec["params"], spec["days"], spec["latency_ms"],
                                      spec["per_day"])))
        return 0
    started = time.perf_counter()
    with ExitStack() as stack:
        lab = Lab(Databases(stack), latency_ms=args.latency_ms, time_scale=args.time_scale)
        if args.executor_only:
            print(json.dumps(measure_executor_capacity(lab, args.decisions), indent=2))
            return 0
        sizes = [int(x) for x in args.sizes.split(",")] if args.sizes else (
            [10, 100] if args.quick else [10, 100, 1000])
        if args.quick:
            lab.repeats, lab.window_samples, lab.poll_samples, lab.bracket_samples = 3, 20, 5, 6
            lab.days, lab.daemon_latency_ms, lab.seed_executor_up_to = 3, 0.0, 10
        if args.days:
            lab.days = args.days
        only = set(args.only.split(",")) if args.only else {
            "monitor", "positions", "executor", "window", "daemon", "capacity"}
        r = Results(sizes)
        for n in sizes:
            if "monitor" in only:
                _log(f"order monitor, N = {n}", started)
                r.monitor += measure_order_monitor(lab, n)
            if "positions" in only:
                _log(f"position monitor, N = {n}", started)
                r.positions += measure_position_monitor(lab, n)
        for n in sizes:
            if "executor" in only:
                _log(f"executor under the rate limit, N = {n}", started)
                r.executor.append(measure_executor(lab, n))
        if "capacity" in only:
            _log("executor without a rate limit, N = 100", started)
            r.capacity = measure_executor_capacity(lab, 100)
        if "window" in only:
            seed_pass = {c.n: c.seed.seconds for c in r.monitor if c.case == "nothing changed"}
            for n in sizes:
                _log(f"unprotected window, staged, N = {n}", started)
                r.windows += measure_staged_window(lab, n, seed_pass.get(n))
            for stream in (True, False):
                _log(f"unprotected window, bracket, stream={stream}", started)
                r.windows.append(measure_bracket_window(lab, stream=stream))
        if "daemon" in only:
            _log(f"the daemon over {lab.days} simulated days", started)
            r.daemon = measure_daemon(lab)
        r.seconds = time.perf_counter() - started
        command = shlex.join(["python", "scripts/benchmark.py", *(
            sys.argv[1:] if argv is None else argv)])
        text = write_report(r, lab, lab.dbs, command, Path(args.out), args.quick)
    _log(f"wrote {args.out}", started)
    print(text)
    return 0

