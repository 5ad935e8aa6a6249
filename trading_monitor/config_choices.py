"""The fixed choices some settings take (their values are what .env says)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from urllib.parse import urlparse

LIVE_ALPACA_HOST = "api.alpaca.markets"
URL_SCHEMES = {"ALPACA_BASE_URL": ("http", "https"), "ALPACA_DATA_URL": ("http", "https"),
               "ALPACA_STREAM_URL": ("ws", "wss")}


class DataFeedName(str, Enum):
    IEX = "iex"
    SIP = "sip"


class ClockSource(str, Enum):
    SYSTEM = "system"
    BROKER = "broker"


class StopFailureAction(str, Enum):
    FLATTEN = "flatten"
    RETRY = "retry"


class ExternalProtection(str, Enum):
    STOP = "stop"
    ALERT = "alert"


class ProtectionMode(str, Enum):
    BRACKET = "bracket"
    STAGED = "staged"


def broker_url_problems(data: Mapping[str, str]) -> list[str]:
    """A garbage broker URL named at start-up, not a urlparse crash or a first-request fault."""
    problems = []
    for name, schemes in URL_SCHEMES.items():
        url = str(data.get(name) or "").strip()
        if url and not _usable(url, schemes):
            problems.append(f"{name}: must be a {schemes[0]}:// or {schemes[1]}:// URL with a "
                            "host")
    return problems


def _usable(url: str, schemes: tuple[str, str]) -> bool:
    try:
        parts = urlparse(url)
        return parts.scheme in schemes and bool(parts.hostname) and parts.port != 0
    except ValueError:  # "http://[::1", a port out of range
        return False


def points_at_live_alpaca(url: str | None) -> bool:
    try:
        host = (urlparse(str(url or "")).hostname or "").lower()
    except ValueError:  # reported by broker_url_problems
        return False
    return host == LIVE_ALPACA_HOST
