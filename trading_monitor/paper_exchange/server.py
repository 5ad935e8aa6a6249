"""PaperExchange: the whole exchange on one loopback port, in a background thread."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType

from aiohttp import web

from trading_monitor.paper_exchange.app import build_app
from trading_monitor.paper_exchange.control_client import ExchangeControl
from trading_monitor.paper_exchange.venue import Venue


class PaperExchange:
    """An Alpaca-compatible exchange for alpaca-py's clients (via their `url_override`)."""

    def __init__(
        self,
        seed: int = 1,
        start: datetime | None = None,
        clock_mode: str = "stepped",
        speed: float = 1.0,
        scenario: str | Path | None = None,
        rate_limit_per_min: int | None = 200,
        api_key: str | None = None,
        secret_key: str | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        random_walk: bool = True,
    ) -> None:
        self.venue = Venue(
            seed=seed, start=start or datetime.now(timezone.utc), clock_mode=clock_mode,
            speed=speed, scenario=scenario, rate_limit_per_min=rate_limit_per_min,
            random_walk=random_walk,
        )
        self.api_key, self.secret_key = api_key, secret_key
        self.host, self.port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._control: ExchangeControl | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def stream_url(self) -> str:
        return f"ws://{self.host}:{self.port}/stream"

    @property
    def control(self) -> ExchangeControl:
        if self._control is None:
            self._control = ExchangeControl(self.url, self.api_key, self.secret_key)
        return self._control

    async def serve(self) -> web.AppRunner:
        """Start serving on the current event loop (used by the CLI and by start())."""
        runner = web.AppRunner(build_app(self.venue, self.api_key, self.secret_key),
                               access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        await site.start()
        self.port = int(runner.addresses[0][1])
        self._runner = runner
        return runner

    def start(self) -> PaperExchange:
        if self._thread is not None:
            raise RuntimeError("already started")
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.serve())
            except BaseException as err:  # reported to the starting thread
                failure.append(err)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="paper-exchange", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        loop, thread, runner = self._loop, self._thread, self._runner
        if loop is None or thread is None:
            return
        if runner is not None:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
        self._loop = self._thread = self._runner = None

    def __enter__(self) -> PaperExchange:
        return self if self._thread is not None else self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
