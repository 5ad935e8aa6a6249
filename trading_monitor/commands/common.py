"""What every command shares: logging setup and turning known errors into exit codes."""

from __future__ import annotations

import getpass
import logging
import sys
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from functools import wraps
from typing import Any

from trading_monitor.exceptions import ConfigError, FatalError, TemporaryError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_TEMPORARY = 3


def jsonable(value: Any) -> Any:
    """json.dumps default: money as exact strings, times in ISO 8601 (UTC offsets kept)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


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


def handles_errors(func: Callable[..., int]) -> Callable[..., int]:
    """Known errors become one clear message on stderr and an exit code, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            print(f"trading-monitor: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        except FatalError as exc:
            print(f"trading-monitor: fatal: {exc}", file=sys.stderr)
            return EXIT_FAILED
        except TemporaryError as exc:
            print(f"trading-monitor: temporary failure, retry later: {exc}", file=sys.stderr)
            return EXIT_TEMPORARY

    return wrapper
