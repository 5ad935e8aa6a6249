"""`trading-monitor demo`: a simulated trading week of the real daemon, in under a minute.

An embedded PostgreSQL and the paper exchange (in this process, on a stepped clock) stand in
for NocoDB's database and Alpaca; the real Daemon's jobs run at their triggers' fire times on
the simulated clock; a scripted week of n8n decisions and market moves is played through
them. At the end: every decision's outcome, the week's P&L (booked and from the fills), the
invariant check, and the daily report's files. See docs/demo.md.

Exit codes: 0 the week ran, the P&L booked agrees with the fills and the invariants hold;
1 they do not; 2 bad options, or no embedded PostgreSQL (the pg extra is missing).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from trading_monitor.demo.progress import WeekProgress
from trading_monitor.demo.runner import Options, Run, run_demo
from trading_monitor.demo.summary import render
from trading_monitor.exceptions import FatalError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trading-monitor demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=5, metavar="N",
                        help="trading days to simulate, from Mon 23 Nov 2026 (default 5: "
                             "Mon-Wed, the Friday half day after Thanksgiving, Mon 30)")
    parser.add_argument("--seed", type=int, default=7, help="the price path's seed (7); "
                        "the same seed gives the same week")
    parser.add_argument("--speed", type=float, default=0.0, metavar="X",
                        help="at most X simulated seconds per wall-clock second within a "
                             "trading day (nights and holidays are skipped); 0, the "
                             "default, runs as fast as the jobs do")
    parser.add_argument("--keep-db", action="store_true",
                        help="leave the database running afterwards and print its DSN "
                             "(psql, NocoDB) and how to stop it")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="where the report, the price path and the log go (default: a "
                             "new temporary directory)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _log_to(out: Path) -> None:
    """The daemon's log goes to a file: the terminal is the progress bar's."""
    handler = logging.FileHandler(out / "demo.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def _epilogue(run: Run, console: Console, days: int) -> int:
    period = "day" if days == 1 else "week"
    render(run.summary, console, period)
    check = run.check
    ok = check is not None and check.exit_code == 0
    console.print(f"Invariant check (trading-monitor check): "
                  f"{'[green]pass[/]' if ok else '[red]FAIL[/]'} "
                  f"({len(check.findings) if check else '?'} findings)")
    if run.report is not None:
        console.print(f"Report: {run.report.markdown} (chart {run.report.chart})",
                      soft_wrap=True)
    else:
        console.print(f"Report: not written ({run.report_error})")
    ran = sum(1 for _, _, did in run.fired if did)
    console.print(f"{run.steps} steps (the progress bar's count): {len(run.fired)} job fire "
                  f"times, {ran} of them run (the guard skipped the rest: outside the session, "
                  f"or a holiday), and {run.steps - len(run.fired)} decisions and market "
                  f"moves; {len(run.summary.trades)} trades, {len(run.summary.fills)} fills. "
                  f"The {period} took {run.wall_seconds:.1f} s.")
    console.print(f"The demo left its folder (report, prices.json, demo.log) in {run.out_dir}",
                  soft_wrap=True)
    if run.kept_dsn:
        # soft_wrap: the commands must paste whole, whatever the terminal's width
        console.print("The database is still running: trading-monitor psql "
                      f"{run.kept_dsn}", soft_wrap=True)
        console.print(f"Stop it with: {run.stop_hint}", soft_wrap=True)
    return 0 if ok and run.summary.pnl_agrees else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.days < 1:
        _parser().error("--days must be at least 1")
    if args.speed < 0:
        _parser().error("--speed must be 0 or more")
    console = Console()
    out = args.out or Path(tempfile.mkdtemp(prefix="trading-monitor-demo-"))
    out.mkdir(parents=True, exist_ok=True)
    options = Options(days=args.days, seed=args.seed, speed=args.speed, keep_db=args.keep_db,
                      out_dir=out)
    _log_to(out)
    try:
        if args.quiet:
            run = run_demo(options)
        else:
            with WeekProgress(console) as bar:
                run = run_demo(options, bar.update)
    except FatalError as exc:  # e.g. no embedded PostgreSQL: one line, not a traceback
        print(f"trading-monitor demo: {exc}", file=sys.stderr)
        return 2
    return _epilogue(run, console, args.days)
