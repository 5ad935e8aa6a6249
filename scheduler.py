#!/usr/bin/env python3
"""The trading-monitor daemon: one APScheduler process owning the jobs.

    python scheduler.py            # run until stopped (Ctrl-C or SIGTERM)
    python scheduler.py --list     # show the jobs and their next run times, then exit

The same as `trading-monitor run`; see trading_monitor/daemon/.
"""

from __future__ import annotations

import sys

from trading_monitor.daemon.main import main

if __name__ == "__main__":
    sys.exit(main())
