"""Named crash points: `TRADING_MONITOR_CRASH_AT=<name>` kills the process there with SIGKILL.

The crash drills (tests/drills/test_crash_points.py) run a job as a real subprocess, kill it at a
point, run it again and check the books against the broker. SIGKILL, not an exception: no
finally block, no rollback handler and no atexit hook runs, exactly as in a power cut.
The list is documented in docs/order-executor.md; the monitors add theirs.
"""

from __future__ import annotations

import logging
import os
import signal
import sys

ENV_VAR = "TRADING_MONITOR_CRASH_AT"

EXECUTOR_POINTS = (
    "after_claim",     # a decision is claimed (row locked), nothing written for it yet
    "after_intent",    # journal and order rows committed, nothing sent
    "after_submit",    # the broker accepted the order; nothing of it recorded
    "after_record",    # the broker's answer written in the claim transaction, not committed
    "after_outcome",   # the decision's outcome committed
    "after_cancel",    # a cancel was sent; its result not read or recorded
)
ORDER_MONITOR_POINTS = (
    "after_fill_seen",    # an entry fill booked as a position; no protection placed yet
    "after_stop_submit",  # the broker accepted a protective order; nothing of it recorded
    "in_exit",            # an exit fill seen, the journal not closed yet
)
POSITION_MONITOR_POINTS = (
    "in_reconciliation",  # the broker's positions compared with ours, nothing acted on yet
    "after_trail_submit",  # a trailing stop's replacement accepted; nothing of it recorded
)
CRASH_POINTS = frozenset(EXECUTOR_POINTS + ORDER_MONITOR_POINTS + POSITION_MONITOR_POINTS)

log = logging.getLogger(__name__)


def crash_point(name: str) -> None:
    if name not in CRASH_POINTS:
        raise ValueError(f"unknown crash point {name!r}")
    if os.environ.get(ENV_VAR) == name:
        log.critical("crash point %s reached: killing the process (SIGKILL)", name)
        sys.stdout.flush()
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)
