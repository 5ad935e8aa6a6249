"""Daemon logging: text or JSON lines, the run id on each line, secrets redacted."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

from trading_monitor.ledger.runs import current_run_id


class RunIdFilter(logging.Filter):
    """Stamps the job's run id on every record and replaces any secret by ***."""

    def __init__(self, secrets: Iterable[str]):
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        record.run_id = getattr(record, "run_id", None) or current_run_id.get()
        message = record.getMessage()
        for secret in self.secrets:
            message = message.replace(secret, "***")
        record.msg, record.args = message, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
                "level": record.levelname, "logger": record.name,
                "run_id": getattr(record, "run_id", "-"), "message": record.getMessage()}
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body)


def configure_logging(level: str, fmt: str, secrets: Iterable[str]) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RunIdFilter(secrets))
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s [%(run_id)s]: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet_libraries(level)


def quiet_libraries(level: str) -> None:
    """APScheduler logs every run ("Running job", "executed successfully") at INFO, every 15
    seconds for the heartbeat: that is DEBUG for us. matplotlib's INFO is font chatter."""
    debug = str(level).upper() == "DEBUG"
    logging.getLogger("apscheduler").setLevel(logging.DEBUG if debug else logging.WARNING)
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    for name in ("apscheduler.scheduler", "apscheduler.executors.default"):
        scheduler_log = logging.getLogger(name)
        if not any(isinstance(f, _SaidByTheDaemon) for f in scheduler_log.filters):
            scheduler_log.addFilter(_SaidByTheDaemon())


class _SaidByTheDaemon(logging.Filter):
    """A skipped or missed run is logged (and recorded in job_run) by the daemon's own event
    listener (app.py `_on_event`); APScheduler's WARNING about it would say it twice."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = str(record.msg)
        return not ("maximum number of running instances" in text or "was missed by" in text)
