"""`python -m trading_monitor.cli` is `trading-monitor`."""

import sys

from trading_monitor.cli.dispatch import main

sys.exit(main())
