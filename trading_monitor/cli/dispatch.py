"""The `trading-monitor` command: a thin dispatcher, every subcommand lives in its own module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence


def _migrate(argv: Sequence[str]) -> int:
    from trading_monitor.cli.migrate import main

    return main(argv)


def _paper_exchange(argv: Sequence[str]) -> int:
    from trading_monitor.paper_exchange.__main__ import main

    return main(list(argv))


def _execute(argv: Sequence[str]) -> int:
    from trading_monitor.order_executor.__main__ import main

    return main(argv, prog="trading-monitor execute")


def _monitor_orders(argv: Sequence[str]) -> int:
    from trading_monitor.order_monitor.__main__ import main

    return main(argv, prog="trading-monitor monitor-orders")


def _monitor_positions(argv: Sequence[str]) -> int:
    from trading_monitor.position_monitor.__main__ import main

    return main(argv, prog="trading-monitor monitor-positions")


def _approve_exit(argv: Sequence[str]) -> int:
    from trading_monitor.cli.operator import approve_exit

    return approve_exit(argv)


def _resume_entries(argv: Sequence[str]) -> int:
    from trading_monitor.cli.operator import resume_entries

    return resume_entries(argv)


def _resume(argv: Sequence[str]) -> int:
    from trading_monitor.cli.operator import resume

    return resume(argv)


def _run(argv: Sequence[str]) -> int:
    from trading_monitor.daemon.main import main  # written alongside; imported on use

    return main(argv)


def _status(argv: Sequence[str]) -> int:
    from trading_monitor.cli.status import main

    return main(argv)


def _kill_switch(argv: Sequence[str]) -> int:
    from trading_monitor.cli.kill_switch import main

    return main(argv)


def _flatten(argv: Sequence[str]) -> int:
    from trading_monitor.cli.flatten import main

    return main(argv)


def _health(argv: Sequence[str]) -> int:
    from trading_monitor.cli.health import main

    return main(argv)


def _nocodb_role(argv: Sequence[str]) -> int:
    from trading_monitor.cli.nocodb import main

    return main(argv)


def _check(argv: Sequence[str]) -> int:
    from trading_monitor.invariants.cli import main

    return main(argv)


def _validate_paper(argv: Sequence[str]) -> int:
    from trading_monitor.cli.validate_paper import main

    return main(argv)


def _report(argv: Sequence[str]) -> int:
    from trading_monitor.cli.report import main

    return main(argv)


def _psql(argv: Sequence[str]) -> int:
    from trading_monitor.cli.psql import main

    return main(argv)


def _reconcile(argv: Sequence[str]) -> int:
    from trading_monitor.cli.reconcile import main

    return main(argv)


def _demo(argv: Sequence[str]) -> int:
    from trading_monitor.demo.cli import main

    return main(argv)


SUBCOMMANDS: dict[str, tuple[Callable[[Sequence[str]], int], str]] = {
    "migrate": (_migrate, "apply the versioned schema migrations"),
    "paper-exchange": (_paper_exchange, "serve the Alpaca-compatible paper exchange"),
    "execute": (_execute, "run one order-executor cycle"),
    "monitor-orders": (_monitor_orders, "run one order-monitor cycle"),
    "monitor-positions": (_monitor_positions, "run one position-monitor cycle"),
    "approve-exit": (_approve_exit, "approve closing a position at its target"),
    "resume": (_resume, "clear the kill switch and the drawdown and reconciliation halts"),
    "resume-entries": (_resume_entries, "the older name of resume (--reason optional)"),
    "run": (_run, "run the daemon (the scheduler with every job)"),
    "status": (_status, "open trades, P&L today, last job runs, halts, leader"),
    "kill-switch": (_kill_switch, "halt new entries, cancel open entries (--flatten: close "
                                  "every position)"),
    "flatten": (_flatten, "close one trade's position at market now, its stop kept until "
                          "the exit can go"),
    "health": (_health, "Nagios-style health check (exit 0 OK, 1 WARNING, 2 CRITICAL, "
                        "3 UNKNOWN)"),
    "nocodb-role": (_nocodb_role, "create the PostgreSQL role NocoDB connects with"),
    "check": (_check, "check the invariants against the books and the broker"),
    "demo": (_demo, "a simulated trading week of the real daemon (embedded database, paper "
                    "exchange)"),
    "report": (_report, "write the daily report (Markdown, JSON, PNG chart) from the "
                        "database"),
    "psql": (_psql, "psql on the configured database (--test-mode: the test one; or a DSN), "
                    "with the embedded server's psql"),
    "reconcile": (_reconcile, "the books' broker account and any reconciliation incident; "
                              "--accept-gone IDS, --adopt-account ID (with --reason)"),
    "validate-paper": (_validate_paper, "check a paper account serves every read and an order "
                                        "round trip (refuses live)"),
}


def _epilog() -> str:
    width = max(len(name) for name in SUBCOMMANDS)
    lines = [f"  {name:<{width}}  {text}" for name, (_, text) in sorted(SUBCOMMANDS.items())]
    return ("commands:\n" + "\n".join(lines) + "\n\n`trading-monitor COMMAND --help` "
            "for one command; exit codes: docs/operations.md")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="trading-monitor", description=__doc__,
                                     epilog=_epilog(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=sorted(SUBCOMMANDS), metavar="COMMAND",
                        help="one of the commands below")
    if not args or args[0] in ("-h", "--help"):
        parser.print_help()
        return 0 if args else 2
    if args[0] not in SUBCOMMANDS:
        parser.parse_args(args[:1])  # prints the usage error and exits 2
    handler, _ = SUBCOMMANDS[args[0]]
    return handler(args[1:])


if __name__ == "__main__":
    raise SystemExit(main())
