"""The invariant checker (`trading-monitor check`, `scripts/check_invariants.py`).

Pure checks take the rows and the broker's answers as arguments (model.py, records.py,
ledger_checks.py, broker_checks.py, halt_windows.py, broker_view.py); read.py and
broker_read.py do the reading; run.py ties them together; cli.py is the command.
"""

from trading_monitor.invariants.model import INVARIANTS, Books, Finding, Limits
from trading_monitor.invariants.run import Options, Report, evaluate, run_check

__all__ = ["INVARIANTS", "Books", "Finding", "Limits", "Options", "Report", "evaluate",
           "run_check"]
