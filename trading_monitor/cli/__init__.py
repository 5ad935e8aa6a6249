"""The `trading-monitor` command: `dispatch.py` parses the subcommand, each module here
is one command. The top layer: it may import anything, nothing imports it."""

from trading_monitor.cli.dispatch import main

__all__ = ["main"]
