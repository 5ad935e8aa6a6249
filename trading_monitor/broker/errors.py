"""Sorting broker failures into temporary, rejected and fatal (see trading_monitor.exceptions)."""

from __future__ import annotations

import json

import requests
from alpaca.common.exceptions import APIError
from pydantic import ValidationError

from trading_monitor.exceptions import (
    FatalError,
    RejectedError,
    TemporaryError,
    TradingMonitorError,
)


class NotFoundError(RejectedError):
    """The broker has no such order, asset or position (404)."""


class DuplicateClientOrderId(RejectedError):
    """422 'client_order_id must be unique': an earlier attempt reached the broker."""


def api_message(exc: APIError) -> str:
    text = str(exc)
    try:
        body = json.loads(text)
        if isinstance(body, dict) and "message" in body:
            return str(body["message"])
    except (ValueError, TypeError):
        pass
    return text[:300]


def api_code(exc: APIError) -> int | None:
    """Alpaca's own error code from the body ({"code": 40310000, ...}), when there is one."""
    try:
        body = json.loads(str(exc))
    except (ValueError, TypeError):
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, int) else None


def _status(exc: APIError) -> int | None:
    try:
        return exc.status_code
    except AttributeError:
        return None


# Alpaca's codes (its error bodies carry them beside the HTTP status).
CODE_UNAUTHORIZED = 40110000
# 40310000 means both "potential wash trade detected. use complex orders" and "insufficient
# qty available for order": what a refusal calls for is told by its message, never its code.
CODE_FORBIDDEN_ORDER = 40310000


class WashTradeRefused(RejectedError):
    """403: the order could trade against our own opposite-side open order (Alpaca's wash-
    trade protection). Withdraw the conflicting order first, or send a complex order."""


class SharesHeldRefused(RejectedError):
    """403: the shares are already held by another open order of ours (insufficient qty)."""


def classify(exc: BaseException, retry_after: float | None = None, *,
             order_request: bool = False) -> TradingMonitorError:
    """Map any error from alpaca-py or the network onto our three kinds.

    `order_request` marks a submit, replace or cancel of one order: there a 403 is the
    broker refusing that order (buying power, held shares, pattern day trader), a final no
    for that decision only; anywhere else a 403 means the account may not do this at all.
    """
    if isinstance(exc, TradingMonitorError):
        return exc
    if isinstance(exc, APIError):
        return _classify_api_error(exc, retry_after, order_request)
    if isinstance(exc, (requests.exceptions.InvalidHeader, UnicodeEncodeError)):
        # Raised before anything is sent: a key with a newline, a space or a non-ASCII
        # character. Retrying can never help.
        return FatalError("the Alpaca API key or secret is malformed (it must be printable "
                          "ASCII without spaces); check ALPACA_API_KEY and ALPACA_SECRET_KEY")
    if isinstance(exc, requests.Timeout):
        return TemporaryError(f"broker timed out ({type(exc).__name__})")
    if isinstance(exc, requests.ConnectionError):
        return TemporaryError("broker connection failed or was reset")
    if isinstance(exc, (ValidationError, ValueError)):
        return TemporaryError(f"broker sent a response we could not read: {type(exc).__name__}")
    return TemporaryError(f"unexpected broker failure: {type(exc).__name__}")


def _classify_api_error(exc: APIError, retry_after: float | None, order_request: bool
                        ) -> TradingMonitorError:
    status = _status(exc)
    code = api_code(exc)
    message = api_message(exc)
    lowered = message.lower()
    if status == 401 or code == CODE_UNAUTHORIZED:
        return FatalError(f"broker refused the API keys ({status}): {message}")
    if status == 403:
        if order_request:
            return _refused_order(f"broker refused the order (403, code {code}): {message}",
                                  lowered, status, code)
        return FatalError(f"broker forbade the request (403, code {code}): {message}")
    if status == 404:
        return NotFoundError(f"not found at the broker: {message}")
    # 40010001 is also Alpaca's generic "invalid request" code: the message decides.
    if "client_order_id must be unique" in lowered:
        return DuplicateClientOrderId(message)
    if status == 429:
        return TemporaryError("broker rate limit hit (429)", retry_after=retry_after)
    if status is not None and status >= 500:
        return TemporaryError(f"broker server error ({status}): {message}")
    return RejectedError(f"broker rejected the request ({status}): {message}", status, code)


def _refused_order(text: str, lowered: str, status: int | None, code: int | None
                   ) -> RejectedError:
    if "wash trade" in lowered:
        return WashTradeRefused(text, status, code)
    if "insufficient qty" in lowered:
        return SharesHeldRefused(text, status, code)
    return RejectedError(text, status, code)
