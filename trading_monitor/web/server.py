"""The cockpit's HTTP server: aiohttp on its own thread and event loop inside the daemon.

Every daemon serves it, leader and standby alike. It never stops trading: a busy port (two
daemons on one host) is a WARNING and the daemon runs on without it. It refuses a
non-loopback address without COCKPIT_TOKEN (docs/operations.md, "Reaching it safely").
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from aiohttp import web

from trading_monitor.exceptions import ConfigError
from trading_monitor.web.actions import Actor
from trading_monitor.web.auth import Sessions, bind_problem, is_loopback
from trading_monitor.web.metrics import Process, registry
from trading_monitor.web.routes import Routes

if TYPE_CHECKING:
    from trading_monitor.daemon.app import Daemon
    from trading_monitor.settings.config import Settings

log = logging.getLogger(__name__)


class Cockpit:
    def __init__(self, actor: Actor, *, process: Process | None = None,
                 bind: str | None = None, port: int | None = None):
        settings = actor.settings
        self.bind = bind if bind is not None else settings.cockpit_bind
        self.port = port if port is not None else settings.cockpit_port
        token = settings.cockpit_token.get_secret_value() if settings.cockpit_token else None
        problem = bind_problem(self.bind, bool(token))
        if problem:
            raise ConfigError([problem])
        self.sessions = Sessions(token)
        self._reads = ThreadPoolExecutor(max_workers=3, thread_name_prefix="cockpit-read")
        self._acts = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cockpit-act")
        metrics = registry(actor.db_config, settings, process or Process())
        self.routes = Routes(actor, self.sessions, metrics, self._reads, self._acts,
                             private=not is_loopback(self.bind))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.serving = False

    @property
    def url(self) -> str:
        host = f"[{self.bind}]" if ":" in self.bind else self.bind
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 10.0) -> bool:
        """Serve in a daemon thread; False (a WARNING logged) when the port cannot be bound."""
        self._thread = threading.Thread(target=self._serve, name="cockpit", daemon=True)
        self._thread.start()
        self._ready.wait(timeout)
        return self.serving

    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._bind())
        except OSError as exc:
            log.warning("the cockpit could not listen on %s:%s (%s); trading goes on without "
                        "it (another daemon on this host may hold the port: set COCKPIT_PORT)",
                        self.bind, self.port, exc.strerror or exc)
            self._ready.set()
            loop.close()
            return
        self.serving = True
        log.info("cockpit serving at %s (%s)", self.url, "actions need the token"
                 if self.sessions.token_set else "read-only: COCKPIT_TOKEN is not set")
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            if self._runner is not None:
                loop.run_until_complete(self._runner.cleanup())
            loop.close()

    async def _bind(self) -> None:
        app = web.Application(client_max_size=64 * 1024)
        self.routes.add_to(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.bind, self.port, reuse_address=False)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            self._runner = None
            raise
        server = getattr(site, "_server", None)
        sockets: Any = getattr(server, "sockets", None) or []
        if sockets and self.port == 0:
            self.port = int(sockets[0].getsockname()[1])

    def stop(self) -> None:
        if self._loop is not None and self.serving:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.serving = False
        self._reads.shutdown(wait=False, cancel_futures=True)
        self._acts.shutdown(wait=False, cancel_futures=True)


def check_bind(settings: Settings) -> None:
    """The daemon refuses to start on a non-loopback COCKPIT_BIND without COCKPIT_TOKEN."""
    problem = bind_problem(settings.cockpit_bind, settings.cockpit_token is not None)
    if problem and settings.cockpit_port != 0:
        raise ConfigError([problem])


def serve(daemon: Daemon) -> Cockpit | None:
    """The running daemon's cockpit: its settings, database, broker and job clock."""
    def stream_connected() -> bool:
        listener = getattr(daemon, "_listener", None)
        return bool(listener is not None and listener.connected)

    actor = Actor(daemon.settings, daemon.db_config, daemon.broker, daemon.now)
    return start_cockpit(actor, Process(is_leader=lambda: daemon.leadership.is_leader,
                                        stream_connected=stream_connected))


def start_cockpit(actor: Actor, process: Process) -> Cockpit | None:
    """The daemon's cockpit per its settings; None when COCKPIT_PORT is 0 or the port is busy.
    A non-loopback COCKPIT_BIND without COCKPIT_TOKEN raises ConfigError (checked before)."""
    if actor.settings.cockpit_port == 0:
        log.info("cockpit off (COCKPIT_PORT=0)")
        return None
    cockpit = Cockpit(actor, process=process)
    return cockpit if cockpit.start() else None
