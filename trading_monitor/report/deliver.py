"""Sending the report through apprise (REPORT_URLS: mailto://, tgram://, slack://, json://, …):
the Markdown as the body, the chart (and the JSON) attached where the service takes
attachments. The URLs hold credentials: they are never logged, nor put in an error."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    status: str  # sent | failed | not_configured | already_sent
    error: str | None = None


def split_urls(value: str | None) -> list[str]:
    return [u.strip() for u in (value or "").split(",") if u.strip()]


def url_secrets(value: str | None) -> list[str]:
    """What the log redaction must hide: the whole setting, each URL, each password."""
    from urllib.parse import urlsplit

    urls = split_urls(value)
    found = [value or "", *urls]
    for url in urls:
        try:
            found.append(urlsplit(url).password or "")
        except ValueError:  # not a URL apprise could read either; hidden whole above
            continue
    return [s for s in found if s]


def deliver(files: Any, urls: list[str], title: str, *, notifier: Any = None) -> Delivery:
    """Send `files` (a ReportFiles) to every URL; failed when any of them fails."""
    if not urls:
        return Delivery("not_configured")
    try:
        import apprise  # on first use: apprise scans its plugins when imported

        ap = notifier or apprise.Apprise()
        unusable = sum(1 for url in urls if not ap.add(url))
        if unusable:
            # Counted, never echoed: the URL carries a password or a token.
            return Delivery("failed", f"{unusable} of {len(urls)} REPORT_URLS could not be "
                                      "read by apprise (check their syntax)")
        attach = apprise.AppriseAttachment()
        for path in (files.chart, files.json):
            attach.add(str(path))
        ok = ap.notify(title=title, body=files.markdown.read_text(encoding="utf-8"),
                       body_format=apprise.NotifyFormat.MARKDOWN, attach=attach)
    except Exception as exc:  # a broken channel must not lose the report: it is on disk
        return Delivery("failed", f"apprise raised {type(exc).__name__}")
    return Delivery("sent") if ok else Delivery("failed", "apprise reported the notification "
                                                          "as not sent")
