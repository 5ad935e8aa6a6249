"""Error kinds the jobs act on (after freqtrade): temporary, rejected, fatal.

- TemporaryError: try again next cycle (timeouts, 5xx, 429, database briefly away).
- RejectedError: the broker or a rule said no; terminal for that decision, with the reason.
- FatalError: bad keys or configuration; alert and stop the job.
"""

from __future__ import annotations


class TradingMonitorError(Exception):
    """Base for every error this package raises on purpose."""


class ConfigError(TradingMonitorError):
    """One or more settings are missing or invalid; lists every problem by variable name."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in self.problems))


class FatalError(TradingMonitorError):
    """The job cannot go on (bad credentials, account blocked, schema missing)."""


class TemporaryError(TradingMonitorError):
    """A passing fault: the work stays pending and is retried next cycle."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class BrokerContractError(TemporaryError):
    """The broker's answer lacks a field we need (or has one we cannot read).

    Not a passing fault like a timeout: it raises an ALERT at once and makes `health`
    CRITICAL. The work it hit is deferred, and a decision whose entry session closes while it
    lasts ends SKIPPED with the endpoint and field in its reason.
    """

    def __init__(self, endpoint: str, field: str, problem: str = "is missing"):
        super().__init__(f"broker contract broken: {endpoint} sent an object whose field "
                         f"'{field}' {problem}")
        self.endpoint = endpoint
        self.field = field


class RejectedError(TradingMonitorError):
    """A final no for this one piece of work (broker rejection, failed risk rule).

    `status` and `code` are the broker's HTTP status and Alpaca error code, when it was
    the broker that said no.
    """

    def __init__(self, message: str, status: int | None = None, code: int | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class UnknownSchemaError(TradingMonitorError, ValueError):
    """A table or column name that is not part of our schema; raised before any SQL runs."""


class DatabaseUnavailable(TemporaryError):
    """The database connection dropped or could not be opened; reopened on next use."""
