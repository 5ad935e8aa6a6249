"""The fixed choices some settings take (their values are what .env says)."""

from __future__ import annotations

from enum import Enum


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
