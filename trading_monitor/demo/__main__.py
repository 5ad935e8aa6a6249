"""`python -m trading_monitor.demo` = `trading-monitor demo`."""

from trading_monitor.demo.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
