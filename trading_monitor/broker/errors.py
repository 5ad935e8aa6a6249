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


def _status(exc: APIError) -> int | None:
    try:
        return exc.status_code
    except AttributeError:
        return None


def classify(exc: BaseException, retry_after: float | None = None) -> TradingMonitorError:
    """Map any error from alpaca-py or the network onto our three kinds."""
    if isinstance(exc, TradingMonitorError):
        return exc
    if isinstance(exc, APIError):
        return _classify_api_error(exc, retry_after)
    if isinstance(exc, requests.Timeout):
        return TemporaryError(f"broker timed out ({type(exc).__name__})")
    if isinstance(exc, requests.ConnectionError):
        return TemporaryError("broker connection failed or was reset")
    if isinstance(exc, (ValidationError, ValueError)):
        return TemporaryError(f"broker sent a response we could not read: {type(exc).__name__}")
    return TemporaryError(f"unexpected broker failure: {type(exc).__name__}")


def _classify_api_error(exc: APIError, retry_after: float | None) -> TradingMonitorError:
    status = _status(exc)
    message = api_message(exc)
    lowered = message.lower()
    if status == 401:
        return FatalError(f"broker refused the API keys (401): {message}")
    if status == 403:
        if "buying power" in lowered or "insufficient" in lowered or "qty" in lowered:
            return RejectedError(f"broker rejected the order (403): {message}")
        return FatalError(f"broker forbade the request (403): {message}")
    if status == 404:
        return NotFoundError(f"not found at the broker: {message}")
    if status == 422 and "client_order_id must be unique" in lowered:
        return DuplicateClientOrderId(message)
    if status == 429:
        return TemporaryError("broker rate limit hit (429)", retry_after=retry_after)
    if status is not None and status >= 500:
        return TemporaryError(f"broker server error ({status}): {message}")
    return RejectedError(f"broker rejected the request ({status}): {message}")
