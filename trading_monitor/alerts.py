"""Alerts through apprise (`ALERT_URLS`: e-mail, Telegram, Slack, ntfy, … in apprise's URL
syntax), rate-limited per kind and recorded in the `alert` table whether sent or not.

Code raises an alert by logging at ERROR with a message that starts with "ALERT"; the daemon
installs `AlertHandler`, which sends it. Nothing is sent when ALERT_URLS is empty.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from trading_monitor.clock import system_clock
from trading_monitor.db_layer import TradingDB

log = logging.getLogger(__name__)


class Alerts:
    def __init__(self, db: TradingDB, urls: list[str], *, min_interval: timedelta,
                 now: Callable[[], datetime] = system_clock, notifier: Any = None):
        self.db, self.urls, self.min_interval, self.now = db, urls, min_interval, now
        self._notifier = notifier
        self._lock = threading.Lock()

    def send(self, kind: str, message: str, run_id: str | None = None) -> str:
        """Deliver (unless rate-limited or unconfigured) and record; returns the delivery."""
        with self._lock:
            delivery = self._deliver(kind, message)
            self.db.insert("alert", {"run_id": run_id, "kind": kind[:100],
                                     "message": message[:2000], "delivery": delivery})
        return delivery

    def _deliver(self, kind: str, message: str) -> str:
        if not self.urls:
            return "not_configured"
        recent = self.db.execute_query(
            "SELECT 1 AS found FROM alert WHERE kind = %s AND delivery = 'sent' "
            "AND created_at >= %s LIMIT 1", [kind[:100], self.now() - self.min_interval])
        if recent:
            return "suppressed"
        try:
            ok = self._apprise().notify(title=f"trading-monitor: {kind}", body=message)
        except Exception as exc:  # a broken alert channel must never stop trading
            log.warning("alert delivery failed (%s): %s", kind, type(exc).__name__)
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
    """Turns "ALERT …" error records of any module into alerts (kind: the module)."""

    def __init__(self, alerts: Alerts):
        super().__init__(level=logging.ERROR)
        self.alerts = alerts

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if not message.startswith("ALERT") or record.name == __name__:
            return
        try:
            self.alerts.send(getattr(record, "alert_kind", record.name), message,
                             getattr(record, "run_id", None))
        except Exception:  # never let alerting break the job that logged
            self.handleError(record)
