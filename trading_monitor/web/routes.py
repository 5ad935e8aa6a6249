"""The cockpit's URLs. Reads and actions run in worker threads, never on the event loop.

GET  /            the page (read-only without a session)
GET  /healthz     `trading-monitor health --no-broker --json`: 200 OK/WARNING, 503 otherwise
GET  /metrics     Prometheus text
GET  /login, POST /login, POST /logout
GET  /confirm/flatten/ID, /confirm/kill[?flatten=1], /confirm/resume   (change nothing)
POST /action/flatten/ID, /action/kill, /action/resume   (token session + CSRF + the
     confirmation the operator saw, checked again against the books)
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from trading_monitor.cli import health
from trading_monitor.cli.common import jsonable
from trading_monitor.cli.health_checks import CRITICAL, UNKNOWN
from trading_monitor.clock import system_clock
from trading_monitor.db.connection import TradingDB
from trading_monitor.web import actions, data, forms, page
from trading_monitor.web.auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    SESSION_SECONDS,
    Sessions,
    same_origin,
)
from trading_monitor.web.broker_view import BrokerView
from trading_monitor.web.metrics import render

log = logging.getLogger(__name__)
T = TypeVar("T")
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY", "Cache-Control": "no-store",
}


class Routes:
    def __init__(self, actor: actions.Actor, sessions: Sessions, metrics: CollectorRegistry,
                 reads: Executor, acts: Executor, *, private: bool = False):
        self.actor, self.sessions, self.metrics = actor, sessions, metrics
        self.reads, self.acts = reads, acts
        # On a non-loopback address the page and /metrics need the token too (/healthz
        # stays open: states only, for an outside monitor).
        self.private = private
        self.broker_view = BrokerView(actor.broker, now=actor.now)

    def add_to(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/", self.page)
        r.add_get("/healthz", self.healthz)
        r.add_get("/metrics", self.metrics_text)
        r.add_get("/login", self.login_form)
        r.add_post("/login", self.login)
        r.add_post("/logout", self.logout)
        r.add_get(r"/confirm/flatten/{trade_id:\d+}", self.confirm_flatten)
        r.add_get("/confirm/kill", self.confirm_kill)
        r.add_get("/confirm/resume", self.confirm_resume)
        r.add_post(r"/action/flatten/{trade_id:\d+}", self.do_flatten)
        r.add_post("/action/kill", self.do_kill)
        r.add_post("/action/resume", self.do_resume)
        app.on_response_prepare.append(_secure_headers)

    # -- helpers ---------------------------------------------------------------------------

    async def _run(self, pool: Executor, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(pool, work)

    def _read(self, work: Callable[[TradingDB], T]) -> Callable[[], T]:
        def run() -> T:
            with TradingDB(config=self.actor.db_config, read_only=True,
                           application_name="trading-monitor cockpit") as db:
                return work(db)
        return run

    def _session(self, request: web.Request) -> tuple[str | None, str]:
        sid = request.cookies.get(SESSION_COOKIE)
        found = self.sessions.get(sid)
        return (sid, found.csrf) if found else (None, "")

    @staticmethod
    def _html(text: str, status: int = 200) -> web.Response:
        return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")

    @staticmethod
    def _source(request: web.Request) -> str:
        return f"cockpit web page ({request.remote or 'unknown address'})"

    # -- reading ---------------------------------------------------------------------------

    async def page(self, request: web.Request) -> web.Response:
        sid, csrf = self._session(request)
        if self.private and sid is None:
            raise web.HTTPSeeOther("/login")
        now = self.actor.now()
        stops = await self._run(self.reads, self.broker_view.stops)
        try:
            found = await self._run(self.reads, self._read(
                lambda db: data.gather(db, self.actor.settings, now, stops)))
        except Exception as exc:  # the page says so instead of a bare 500
            log.warning("cockpit: the books could not be read: %s", type(exc).__name__)
            why = (f"The books could not be read ({type(exc).__name__}): is the database "
                   "up? trading-monitor health says more.")
            return self._html(forms.refused(why, "Unavailable"), 503)
        return self._html(page.render(found, can_act=sid is not None,
                                      token_set=self.sessions.token_set, csrf=csrf))

    async def healthz(self, request: web.Request) -> web.Response:
        def check() -> dict[str, Any]:
            at = system_clock()
            return health.report(health.run_checks(self.actor.db_config, self.actor.settings,
                                                   at, broker=False), at)
        result = await self._run(self.reads, check)
        status = 503 if result["status"] in (CRITICAL, UNKNOWN) else 200
        return web.Response(text=json.dumps(result, default=jsonable, indent=2), status=status,
                            content_type="application/json")

    async def metrics_text(self, request: web.Request) -> web.Response:
        if self.private and self._session(request)[0] is None and not self.sessions.bearer_ok(
                request.headers.get("Authorization", "")):
            return web.Response(status=401, text="Authorization: Bearer COCKPIT_TOKEN needed\n")
        body = await self._run(self.reads, lambda: render(self.metrics))
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    # -- logging in ------------------------------------------------------------------------

    async def login_form(self, request: web.Request) -> web.Response:
        if not self.sessions.token_set:
            return self._html(forms.refused("This cockpit is read-only: COCKPIT_TOKEN is not "
                                            "set on the daemon."), 403)
        nonce = secrets.token_urlsafe(24)
        response = self._html(forms.login(nonce))
        _cookie(request, response, LOGIN_COOKIE, nonce, 600)
        return response

    async def login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        if not nonce or not secrets.compare_digest(nonce, str(form.get("csrf", ""))) or \
                not same_origin(request.headers.get("Origin"), request.host):
            return self._html(forms.refused("The login form expired or came from another "
                                            "site: open /login again."), 403)
        sid = self.sessions.login(str(form.get("token", "")))
        if sid is None:
            log.warning("cockpit: a wrong token from %s", request.remote)
            return self._html(forms.login(nonce, "Wrong token (or too many tries: wait five "
                                                 "minutes)."), 403)
        response = web.HTTPSeeOther("/")
        _cookie(request, response, SESSION_COOKIE, sid, SESSION_SECONDS)
        response.del_cookie(LOGIN_COOKIE, path="/")
        raise response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        sid = request.cookies.get(SESSION_COOKIE)
        if self.sessions.csrf_ok(sid, str(form.get("csrf", ""))):
            self.sessions.logout(sid)
        response = web.HTTPSeeOther("/")
        response.del_cookie(SESSION_COOKIE, path="/")
        raise response

    # -- confirming (changes nothing) ------------------------------------------------------

    async def confirm_flatten(self, request: web.Request) -> web.Response:
        sid, csrf = self._session(request)
        if sid is None:
            return self._html(forms.refused("Log in to act."), 403)
        trade_id = int(request.match_info["trade_id"])
        what = await self._run(self.reads, self._read(
            lambda db: actions.flatten_confirmation(db, trade_id)))
        if what is None:
            return self._html(forms.refused(f"Trade #{trade_id} holds no open position."), 404)
        return self._html(forms.confirm(
            f"Flatten trade #{trade_id}", f"Close trade #{trade_id} now at market: {what}. "
            "Its stop stays at the broker until the exit is accepted.",
            f"/action/flatten/{trade_id}", csrf, what))

    async def confirm_kill(self, request: web.Request) -> web.Response:
        sid, csrf = self._session(request)
        if sid is None:
            return self._html(forms.refused("Log in to act."), 403)
        flatten = request.query.get("flatten") == "1"
        what = await self._run(self.reads, self._read(
            lambda db: actions.kill_confirmation(db, flatten)))
        action = "/action/kill?flatten=1" if flatten else "/action/kill"
        return self._html(forms.confirm(
            "Kill switch" + (" and flatten" if flatten else ""),
            "Stop all new entries and cancel every live entry order; then " + what + ".",
            action, csrf, what))

    async def confirm_resume(self, request: web.Request) -> web.Response:
        sid, csrf = self._session(request)
        if sid is None:
            return self._html(forms.refused("Log in to act."), 403)
        now = self.actor.now()
        what = await self._run(self.reads, self._read(
            lambda db: actions.resume_confirmation(db, self.actor.settings, now)))
        return self._html(forms.confirm("Resume", f"Allow new entries again: {what}.",
                                        "/action/resume", csrf, what, danger=False))

    # -- acting ----------------------------------------------------------------------------

    async def _guard(self, request: web.Request) -> tuple[dict[str, str], str | None]:
        form = {k: str(v) for k, v in (await request.post()).items()}
        sid = request.cookies.get(SESSION_COOKIE)
        if not self.sessions.token_set:
            return form, "This cockpit is read-only: COCKPIT_TOKEN is not set on the daemon."
        if self.sessions.get(sid) is None:
            return form, "Not logged in: log in with COCKPIT_TOKEN first."
        if not same_origin(request.headers.get("Origin"), request.host):
            return form, "A request from another site is refused."
        if not self.sessions.csrf_ok(sid, form.get("csrf", "")):
            return form, "The form's CSRF token is missing or wrong: reload the page."
        if not form.get("reason", "").strip():
            return form, "A reason is required."
        return form, None

    async def _act(self, request: web.Request, title: str, expected: Callable[[TradingDB],
                   str | None], work: Callable[[str, str, str], actions.Outcome]
                   ) -> web.Response:
        form, problem = await self._guard(request)
        if problem:
            log.warning("cockpit: %s refused for %s: %s", title, request.remote, problem)
            return self._html(forms.refused(problem), 403)
        now_seen = await self._run(self.reads, self._read(expected))
        if now_seen != form.get("confirmed"):
            return self._html(forms.refused(
                f"Nothing done: what you confirmed ({form.get('confirmed')}) is no longer what "
                f"the books hold ({now_seen or 'nothing'}). Look again and confirm again."), 409)
        reason, source = form["reason"].strip()[:300], self._source(request)
        log.warning("cockpit: %s by %s: %s (%s)", title, source, reason, now_seen)
        try:
            outcome = await self._run(self.acts, lambda: work(reason, source, str(now_seen)))
        except Exception as exc:
            log.exception("cockpit: %s failed", title)
            return self._html(forms.result(title, False, [f"{type(exc).__name__}: {exc}"]), 500)
        return self._html(forms.result(title, outcome.ok, outcome.lines))

    async def do_flatten(self, request: web.Request) -> web.Response:
        trade_id = int(request.match_info["trade_id"])
        return await self._act(
            request, f"Flatten trade #{trade_id}",
            lambda db: actions.flatten_confirmation(db, trade_id),
            lambda reason, source, seen: self.actor.flatten(trade_id, reason, source, seen))

    async def do_kill(self, request: web.Request) -> web.Response:
        flatten = request.query.get("flatten") == "1"
        return await self._act(
            request, "Kill switch" + (" and flatten" if flatten else ""),
            lambda db: actions.kill_confirmation(db, flatten),
            lambda reason, source, seen: self.actor.kill(reason, source, flatten, seen))

    async def do_resume(self, request: web.Request) -> web.Response:
        now = self.actor.now()
        return await self._act(
            request, "Resume",
            lambda db: actions.resume_confirmation(db, self.actor.settings, now),
            lambda reason, source, seen: self.actor.resume(reason, source, seen))


def _cookie(request: web.Request, response: web.StreamResponse, name: str, value: str,
            max_age: int) -> None:
    secure = request.secure or request.headers.get("X-Forwarded-Proto", "") == "https"
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, secure=secure,
                        samesite="Strict")


async def _secure_headers(request: web.Request, response: web.StreamResponse) -> None:
    for key, value in HEADERS.items():
        response.headers.setdefault(key, value)
