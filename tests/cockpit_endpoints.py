"""Local HTTP endpoints for the cockpit's tests: an apprise json:// target and a
healthchecks-like ping target, each recording what reached it, and each able to fail."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Endpoint:
    """Records every request (path, body); answers `status` (200, or 500 to fail)."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[tuple[str, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8") if length else ""
                owner.received.append((self.path, body))
                self.send_response(owner.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            do_GET = do_POST = do_HEAD = _any

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def json_url(self) -> str:
        return f"json://127.0.0.1:{self.port}/"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/ping/0c1f5a9e-test"

    def messages(self) -> list[str]:
        """The `message` of each apprise json:// notification received."""
        return [json.loads(body)["message"] for _path, body in self.received if body]

    def paths(self) -> list[str]:
        return [path for path, _body in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for(condition: Callable[[], Any], seconds: float = 20) -> Any:
    """Poll a condition (bounded); return its first truthy value."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(0.05)
