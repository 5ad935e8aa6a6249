"""The leader's sender of per-event messages: each pending notify_outbox row is written into
its line once (messages.py), sent to NOTIFY_URLS through apprise, and every attempt recorded
in notify_delivery. At least once: a row is marked sent only after apprise said so (a crash
in between sends it again); a failure is retried 30 s, 1, 2, 4 … minutes later (at most 10)
until NOTIFY_MAX_ATTEMPTS, then the row is `failed`. A kind switched off is `off`; with no
NOTIFY_URLS a row is `not_configured`. Nothing here ever raises into a job: the sender is
its own daemon job, and the outbox is filled by a trigger in the jobs' own transactions.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from trading_monitor.clock import system_clock
from trading_monitor.cockpit.messages import TITLES, query, render
from trading_monitor.db.connection import Row, TradingDB
from trading_monitor.db.queries import Queries
from trading_monitor.report.deliver import split_urls
from trading_monitor.settings.config import Settings

QUERIES = Queries(__name__)  # queries.sql beside this module
log = logging.getLogger(__name__)
BATCH = 50  # rows per pass: a dead endpoint (apprise's 4 s timeouts) keeps a pass bounded
FIRST_RETRY_SECONDS = 30
MAX_RETRY_SECONDS = 600


def retry_delay(attempt: int) -> timedelta:
    """After the `attempt`-th failure: 30 s, 60 s, 120 s … at most 10 minutes."""
    return timedelta(seconds=min(FIRST_RETRY_SECONDS * 2 ** (attempt - 1), MAX_RETRY_SECONDS))


@dataclass
class SendReport:
    counts: dict[str, int] = field(default_factory=dict)  # sent, retrying, failed, off, …

    def add(self, outcome: str) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1


class Outbox:
    def __init__(self, db_config: dict[str, Any], settings: Settings, *,
                 now: Callable[[], datetime] = system_clock, notifier: Any = None):
        self.settings, self.now = settings, now
        urls = settings.notify_urls.get_secret_value() if settings.notify_urls else None
        self.urls = split_urls(urls)
        self._db = TradingDB(config=db_config, application_name="trading-monitor messages")
        self._notifier = notifier
        self._lock = threading.Lock()  # one pass at a time (a scheduled one and the last)

    def send_due(self, limit: int = BATCH) -> SendReport:
        """One pass over what is due, oldest first; the database being away is a logged
        WARNING. A pass starts no new send after NOTIFY_SEND_SECONDS (a dead endpoint's
        timeouts): the rest waits for the next pass, which then is not skipped."""
        report = SendReport()
        budget = time.monotonic() + self.settings.notify_send_seconds
        with self._lock:
            try:
                for row in query(self._db, "due_messages", {"now": self.now(), "limit": limit}):
                    if report.counts and time.monotonic() > budget:
                        break
                    report.add(self._one(row))
            except Exception as exc:  # never into the caller: messages are not trading
                log.warning("per-event messages not sent this pass: %s: %s",
                            type(exc).__name__, exc)
        if report.counts:
            log.info("per-event messages: %s", ", ".join(f"{n} {k}" for k, n in
                                                         sorted(report.counts.items())))
        return report

    def _one(self, row: Row) -> str:
        if not self.settings.notify_kind_on(row["kind"]):
            query_update(self._db, "message_set_status", {"id": row["id"], "status": "off"})
            return "off"
        if not self.urls:
            query_update(self._db, "message_set_status", {"id": row["id"],
                                                          "status": "not_configured"})
            return "not_configured"
        attempt = int(row["attempts"]) + 1
        body, error = row["body"], None
        if body is None:
            try:
                body = render(self._db, row)
            except Exception as exc:  # a message we cannot write is a failed attempt
                error = f"could not be written: {type(exc).__name__}: {exc}"
        if body is not None:
            error = self._send(f"trading-monitor: {TITLES[row['kind']]}", body)
        return self._record(row, attempt, body, error)

    def _record(self, row: Row, attempt: int, body: str | None, error: str | None) -> str:
        now = self.now()
        if error is None:
            status, outcome, at = "sent", "sent", now
        elif attempt >= self.settings.notify_max_attempts:
            status, outcome, at = "failed", "failed", now
            log.warning("per-event message #%s (%s) failed %d times, given up: %s",
                        row["id"], row["kind"], attempt, error)
        else:
            status, outcome, at = "pending", "retrying", now + retry_delay(attempt)
        with self._db.transaction():
            query_update(self._db, "message_delivery", {
                "id": row["id"], "attempt": attempt,
                "status": "sent" if error is None else "failed", "error": error})
            query_update(self._db, "message_attempted", {
                "id": row["id"], "body": body, "attempt": attempt, "status": status,
                "next": at, "error": error, "now": now})
        return outcome

    def _send(self, title: str, body: str) -> str | None:
        """None when apprise delivered to every URL, else why not (never the URL)."""
        try:
            ok = self._apprise().notify(title=title, body=body)
        except Exception as exc:
            return f"apprise raised {type(exc).__name__}"
        return None if ok else "apprise reported the message as not sent"

    def _apprise(self) -> Any:
        if self._notifier is None:
            import apprise  # on first use: apprise scans its plugins when imported

            notifier = apprise.Apprise()
            for url in self.urls:
                if not notifier.add(url):
                    log.warning("one of NOTIFY_URLS could not be read by apprise (check its "
                                "syntax)")
            self._notifier = notifier
        return self._notifier

    def close(self) -> None:
        self._db.close()


def query_update(db: TradingDB, name: str, params: dict[str, Any]) -> int:
    return db.execute_update(QUERIES[name], params)
