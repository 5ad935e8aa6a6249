"""Alerts through apprise (`ALERT_URLS`: e-mail, Telegram, Slack, ntfy, … in apprise's URL
syntax), rate-limited per (kind, subject) and recorded in the `alert` table whether sent or
not.

Code raises an alert with `alert(log, kind, subject, "what happened %s", arg)`: an ERROR
record whose message starts with "ALERT", carrying `alert_kind` and `alert_subject` (the same
two keys may be passed as logging `extra=`). The daemon installs `AlertHandler`, which sends
it. Nothing is sent when ALERT_URLS is empty.

Rate limiting is per kind *and* subject (a trade, a job, a halt), so a second trade's alert is
never held back by the first's. A record without a kind (a call site not converted yet) still
alerts: its kind is its logger's name and its subject the "trade #N"-style reference in its
message (else the message itself), so it errs towards sending.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from trading_monitor.db.connection import TradingDB
from trading_monitor.db.queries import Queries
from trading_monitor.domain.alert_kinds import KINDS as KINDS
from trading_monitor.domain.alert_kinds import SUBJECT_LIMIT as SUBJECT_LIMIT
from trading_monitor.domain.alert_kinds import AlertKind as AlertKind
from trading_monitor.domain.alert_kinds import alert as alert
from trading_monitor.domain.alert_kinds import key_of as key_of
from trading_monitor.ledger.run_context import current_run_id
from trading_monitor.settings.config import Settings

QUERIES = Queries(__name__)  # queries.sql beside this module

log = logging.getLogger(__name__)


class Alerts:
    def __init__(self, db: TradingDB, urls: list[str], *, min_interval: timedelta,
                 notifier: Any = None):
        self.db, self.urls, self.min_interval = db, urls, min_interval
        self._notifier = notifier
        self._lock = threading.Lock()

    def send(self, kind: str, message: str, run_id: str | None = None,
             subject: str = "") -> str:
        """Deliver (unless rate-limited or unconfigured) and record; returns the delivery.

        The alert table's `kind` holds "kind:subject" (the rate limit's key), or the kind
        alone when there is no subject."""
        key = f"{kind}:{subject}" if subject else kind
        with self._lock:
            delivery = self._deliver(kind, key[:100], message)
            self.db.insert("alert", {"run_id": run_id, "kind": key[:100],
                                     "message": message[:2000], "delivery": delivery})
        return delivery

    def _deliver(self, kind: str, key: str, message: str) -> str:
        if not self.urls:
            return "not_configured"
        spec = KINDS.get(kind)
        if spec is None or spec.rate_limited:
            # On the clock that stamped created_at: the job's, else the database's
            # (tm_now(), db/clock.py).
            recent = self.db.execute_query(
                QUERIES["alerts_sent_recently"], [key, self.min_interval])
            if recent:
                return "suppressed"
        try:
            ok = self._apprise().notify(title=f"trading-monitor: {key}", body=message)
        except Exception as exc:  # a broken alert channel must never stop trading
            log.warning("alert delivery failed (%s): %s", key, type(exc).__name__)
            return "failed"
        return "sent" if ok else "failed"

    def _apprise(self) -> Any:
        if self._notifier is None:
            import apprise  # imported on first use: no I/O or plugin scan at import time

            notifier = apprise.Apprise()
            for url in self.urls:
                notifier.add(url)
            self._notifier = notifier
        return self._notifier


class AlertHandler(logging.Handler):
    """Turns "ALERT …" error records of any module into alerts, keyed by (kind, subject)."""

    def __init__(self, alerts: Alerts):
        super().__init__(level=logging.ERROR)
        self.alerts = alerts

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if not message.startswith("ALERT") or record.name == __name__:
            return
        try:
            kind, subject = key_of(record)
            self.alerts.send(kind, message, _run_id(record), subject)
        except Exception:  # never let alerting break the job that logged
            self.handleError(record)


def _run_id(record: logging.LogRecord) -> str | None:
    """The daemon's log filter stamps it on the record; a command's is its context's."""
    found = getattr(record, "run_id", None) or current_run_id.get()
    return None if found in (None, "-") else str(found)


def alert_urls(settings: Settings) -> list[str]:
    text = settings.alert_urls.get_secret_value() if settings.alert_urls else ""
    return [u.strip() for u in text.split(",") if u.strip()]


@contextmanager
def delivered(settings: Settings, db_config: dict[str, Any]) -> Iterator[Alerts]:
    """While open, every ALERT logged in this process is sent through ALERT_URLS and
    recorded in the `alert` table, as the daemon does: for the commands (kill-switch,
    resume, approve-exit, reconcile and the job commands)."""
    db = TradingDB(config=db_config, application_name="trading-monitor alerts")
    alerts = Alerts(db, alert_urls(settings),
                    min_interval=timedelta(minutes=settings.alert_min_interval_minutes))
    handler = AlertHandler(alerts)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield alerts
    finally:
        root.removeHandler(handler)
        db.close()
