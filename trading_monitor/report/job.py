"""The daemon's daily_report job: write the day's report after the close and send it.

The day is the New York day of the job clock (the paper exchange's simulated day in the
demo). The run is one job_run row: SUCCEEDED, PARTIAL when the report was written but not
delivered (the reason in its error), FAILED when it could not be written. A report already
delivered for the day is not sent again (a restart, or the demo's fast schedule).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from trading_monitor.clock import Clock
from trading_monitor.db.connection import TradingDB
from trading_monitor.ledger.runs import JobRun
from trading_monitor.report.data import NEW_YORK, already_delivered
from trading_monitor.report.deliver import Delivery, deliver, split_urls
from trading_monitor.report.writer import ReportFiles, write_report
from trading_monitor.settings.config import Settings

log = logging.getLogger(__name__)
JOB_NAME = "daily_report"


@dataclass(frozen=True)
class ReportRun:
    day: str
    files: ReportFiles
    delivery: Delivery


def daily_report(db_config: dict[str, Any], settings: Settings, *, now: Clock,
                 notifier: Any = None) -> ReportRun:
    day = now().astimezone(NEW_YORK).date()
    urls = split_urls(settings.report_urls.get_secret_value() if settings.report_urls
                      else None)
    with TradingDB(config=db_config, application_name="trading-monitor report") as db:
        job = JobRun(db, JOB_NAME, now=now).start()
        try:
            files = write_report(db, day, settings.report_dir)
            if urls and already_delivered(db, day):
                delivery = Delivery("already_sent")
            else:
                delivery = deliver(files, urls, f"trading-monitor report {day.isoformat()}",
                                   notifier=notifier)
        except BaseException as exc:
            job.finish("FAILED", broker_requests=0, error=f"{type(exc).__name__}: {exc}"[:2000])
            raise
        job.summary = {"run_id": job.run_id, "day": day.isoformat(),
                       "delivery": delivery.status, "markdown": str(files.markdown),
                       "json": str(files.json), "chart": str(files.chart)}
        failed = delivery.status == "failed"
        job.finish("PARTIAL" if failed else "SUCCEEDED", broker_requests=0,
                   error=f"report not delivered: {delivery.error}" if failed else None)
    if failed:
        # Not an ALERT: that channel may be the very one that failed; the row records it.
        log.error("daily report for %s written to %s but not delivered: %s", day,
                  files.markdown.parent, delivery.error)
    else:
        log.info("daily report for %s written to %s (%s)", day, files.markdown.parent,
                 delivery.status)
    return ReportRun(day.isoformat(), files, delivery)
