"""The `trading-monitor` command: a thin dispatcher, every subcommand lives in its own module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence


def _migrate(argv: Sequence[str]) -> int:
    from trading_monitor.commands.migrate import main

    return main(argv)


def _paper_exchange(argv: Sequence[str]) -> int:
    from trading_monitor.paper_exchange.__main__ import main

    return main(list(argv))


def _execute(argv: Sequence[str]) -> int:
    from trading_monitor.order_executor.__main__ import main

    return main(argv)


def _monitor_orders(argv: Sequence[str]) -> int:
    from trading_monitor.order_monitor.__main__ import main

    return main(argv)


def _monitor_positions(argv: Sequence[str]) -> int:
    from trading_monitor.position_monitor.__main__ import main

    return main(argv)


def _approve_exit(argv: Sequence[str]) -> int:
    from trading_monitor.commands.operator import approve_exit

    return approve_exit(argv)


def _resume_entries(argv: Sequence[str]) -> int:
    from trading_monitor.commands.operator import resume_entries

    return resume_entries(argv)


SUBCOMMANDS: dict[str, tuple[Callable[[Sequence[str]], int], str]] = {
    "migrate": (_migrate, "apply the versioned schema migrations"),
    "paper-exchange": (_paper_exchange, "serve the Alpaca-compatible paper exchange"),
    "execute": (_execute, "run one order-executor cycle"),
    "monitor-orders": (_monitor_orders, "run one order-monitor cycle"),
    "monitor-positions": (_monitor_positions, "run one position-monitor cycle"),
    "approve-exit": (_approve_exit, "approve closing a position at its target"),
    "resume-entries": (_resume_entries, "clear the drawdown and reconciliation halts"),
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="trading-monitor", description=__doc__)
    parser.add_argument("command", choices=sorted(SUBCOMMANDS), help="; ".join(
        f"{name}: {text}" for name, (_, text) in sorted(SUBCOMMANDS.items())))
    if not args or args[0] in ("-h", "--help"):
        parser.print_help()
        return 0 if args else 2
    if args[0] not in SUBCOMMANDS:
        parser.parse_args(args[:1])  # prints the usage error and exits 2
    handler, _ = SUBCOMMANDS[args[0]]
    return handler(args[1:])


if __name__ == "__main__":
    raise SystemExit(main())
