"""The daily report (`trading-monitor report`, and the daemon's daily_report job): the day's
trades, positions, P&L, slippage, decisions not executed, targets awaiting approval, alerts
and job health as Markdown, JSON and a PNG chart, read from the database alone.

    from trading_monitor.report import write_report, ReportFiles
    files = write_report(db, day, out_dir)  # files.markdown, files.json, files.chart
"""

from trading_monitor.report.writer import ReportFiles, write_report

__all__ = ["ReportFiles", "write_report"]
