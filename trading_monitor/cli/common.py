"""What every command shares: logging setup and turning known errors into exit codes."""

from __future__ import annotations

import getpass
import logging
import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

from trading_monitor.daemon.logs import quiet_libraries
from trading_monitor.domain.jsonable import jsonable as jsonable
from trading_monitor.exceptions import ConfigError, FatalError, TemporaryError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_TEMPORARY = 3


def operator_name() -> str:
    """Who runs an operator command (the OS user), for the audit trail."""
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no login name in a bare container
        return "unknown user"


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Request logs of these libraries would carry headers; keep them at WARNING.
    for noisy in ("urllib3", "websockets", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    quiet_libraries(level)


# Any of these set (or a .env file here) means someone configured this installation.
_CONFIGURED = ("DATABASE_URL", "POSTGRES_HOST", "POSTGRES_DB", "POSTGRES_USER",
               "POSTGRES_PASSWORD", "ALPACA_API_KEY", "TEST_DATABASE_URL")


def first_contact_hint() -> str:
    """What to do on a machine where nothing is configured yet ("" once something is)."""
    if os.path.exists(".env") or any(os.environ.get(name) for name in _CONFIGURED):
        return ""
    return ("\nNothing is configured here yet (no .env in this folder, no DATABASE_URL or "
            "POSTGRES_* set). Copy .env.example to .env, then set DATABASE_URL (or "
            "POSTGRES_HOST, POSTGRES_DB, POSTGRES_USER, POSTGRES_PASSWORD) and your Alpaca "
            "paper keys (ALPACA_API_KEY, ALPACA_SECRET_KEY); `health` and `check` take "
            "--no-broker to leave the broker out. To try everything with nothing set up: "
            "trading-monitor demo")


def handles_errors(func: Callable[..., int]) -> Callable[..., int]:
    """Known errors become one clear message on stderr and an exit code, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            print(f"trading-monitor: {exc}{first_contact_hint()}", file=sys.stderr)
            return EXIT_CONFIG
        except FatalError as exc:
            print(f"trading-monitor: fatal: {exc}", file=sys.stderr)
            return EXIT_FAILED
        except TemporaryError as exc:
            hint = first_contact_hint()
            if hint:  # nothing is set up yet: no point in retrying
                print(f"trading-monitor: {exc}{hint}", file=sys.stderr)
                return EXIT_CONFIG
            print(f"trading-monitor: temporary failure, retry later: {exc}", file=sys.stderr)
            return EXIT_TEMPORARY

    return wrapper
