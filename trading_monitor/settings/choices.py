"""The fixed choices some settings take, and the checks across raw settings (live without
confirmation, placeholder keys, broker URLs) that no single field can make."""

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


TRUE_WORDS = {"1", "true", "yes", "on"}
# The example values of .env.example's keys: never a real key.
PLACEHOLDER_KEYS = frozenset({"your-paper-key-id", "your-paper-secret"})
FALSE_WORDS = {"0", "false", "no", "off", ""}


def bool_word(value: object) -> object:
    """A setting's true/false word as a bool (other types pass to pydantic as they are)."""
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError("must be true or false")
    return value


def cross_field_problems(data: Mapping[str, str], *, need_broker: bool) -> list[str]:
    # Works on the raw values so these are reported together with per-field errors.
    problems: list[str] = []
    if need_broker:
        for name in ("ALPACA_API_KEY", "ALPACA_SECRET_KEY"):
            value = str(data.get(name, "")).strip()
            if not value:
                problems.append(f"{name}: is required to reach the broker")
            elif value in PLACEHOLDER_KEYS:
                # Caught here, before a request leaves the machine with a key that cannot work.
                problems.append(f"{name}: still the placeholder from .env.example; put your "
                                "Alpaca paper key there (Alpaca dashboard → API keys)")
    paper = str(data.get("ALPACA_PAPER", "true")).strip().lower()
    confirmed = str(data.get("ALPACA_LIVE_TRADING_CONFIRMED", "")).strip().lower()
    is_live = paper in FALSE_WORDS - {""}
    if is_live and confirmed not in TRUE_WORDS:
        problems.append(
            "ALPACA_LIVE_TRADING_CONFIRMED: live trading (ALPACA_PAPER=false) refuses to start "
            "unless this is set to true"
        )
    if not is_live and points_at_live_alpaca(data.get("ALPACA_BASE_URL")):
        problems.append("ALPACA_BASE_URL: points at Alpaca's live API while ALPACA_PAPER is true")
    return problems + broker_url_problems(data)


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
