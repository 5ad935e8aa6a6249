"""Who may act on the cockpit: COCKPIT_TOKEN, typed into a login form, never in a URL.

A correct token opens a session: a random id in an HttpOnly, SameSite=Strict cookie (the
token itself is never sent back). Every POST carries a CSRF token bound to its session (the
login form's to a pre-login cookie) and, when the browser sends one, an Origin of this host.
With no token set nobody logs in: the page is read-only. Sessions live in this process only.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import threading
import time
from dataclasses import dataclass

SESSION_COOKIE = "tm_cockpit_session"
LOGIN_COOKIE = "tm_cockpit_login"
SESSION_SECONDS = 12 * 3600
MAX_FAILURES = 10  # wrong tokens in FAILURE_WINDOW before the form refuses everyone
FAILURE_WINDOW = 300.0


def is_loopback(bind: str) -> bool:
    """127.0.0.0/8, ::1 and localhost; anything else (0.0.0.0, a LAN address, a name) is not."""
    if bind.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(bind.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def bind_problem(bind: str, token_set: bool) -> str | None:
    if token_set or is_loopback(bind):
        return None
    return (f"COCKPIT_BIND={bind} is not a loopback address and COCKPIT_TOKEN is not set: the "
            "cockpit would be open to the network. Set COCKPIT_TOKEN, or bind 127.0.0.1 and "
            "reach it through an SSH tunnel or a TLS reverse proxy (docs/operations.md)")


@dataclass
class Session:
    csrf: str
    expires: float


class Sessions:
    def __init__(self, token: str | None):
        self._token = token
        self._sessions: dict[str, Session] = {}
        self._failures: list[float] = []
        self._lock = threading.Lock()

    @property
    def token_set(self) -> bool:
        return bool(self._token)

    def login(self, offered: str) -> str | None:
        """A new session id for the right token; None otherwise (and always None while too
        many wrong tokens came in the last minutes, or when no token is set)."""
        now = time.monotonic()
        with self._lock:
            self._failures = [t for t in self._failures if now - t < FAILURE_WINDOW]
            if not self._token or len(self._failures) >= MAX_FAILURES:
                return None
            if not hmac.compare_digest(offered.encode(), self._token.encode()):
                self._failures.append(now)
                return None
            sid = secrets.token_urlsafe(32)
            self._sessions[sid] = Session(secrets.token_urlsafe(32), now + SESSION_SECONDS)
            return sid

    def bearer_ok(self, header: str) -> bool:
        """`Authorization: Bearer TOKEN` (Prometheus's `authorization` scrape setting)."""
        scheme, _, offered = header.partition(" ")
        return bool(self._token) and scheme.lower() == "bearer" and hmac.compare_digest(
            offered.strip().encode(), (self._token or "").encode())

    def get(self, sid: str | None) -> Session | None:
        if not sid or not self._token:
            return None
        with self._lock:
            found = self._sessions.get(sid)
            if found is not None and found.expires < time.monotonic():
                del self._sessions[sid]
                return None
            return found

    def logout(self, sid: str | None) -> None:
        with self._lock:
            self._sessions.pop(sid or "", None)

    def csrf_ok(self, sid: str | None, offered: str) -> bool:
        found = self.get(sid)
        return found is not None and hmac.compare_digest(found.csrf.encode(), offered.encode())


def same_origin(origin: str | None, host: str | None) -> bool:
    """A browser's Origin header names this host (behind a proxy: the proxy's Host, which it
    must pass on). No Origin at all (curl, an old browser) is left to the CSRF token."""
    if not origin:
        return True
    if origin == "null" or not host:
        return False
    return origin.split("://", 1)[-1].rstrip("/").lower() == host.lower()
