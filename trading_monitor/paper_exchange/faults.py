"""Injected failures, per endpoint, by count or by seeded probability."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

KINDS = ("latency", "http_status", "hang", "reset", "lost_response", "slow_response",
         "stream_disconnect", "stream_drop")
STREAM_KINDS = ("stream_disconnect", "stream_drop")
STREAM_ENDPOINT = "GET /stream"
HTTP_STATUSES = (401, 403, 422, 429, 500, 502, 503, 504)
# Alpaca's code and wording per status, used unless the fault names its own.
DEFAULT_BODIES: dict[int, tuple[int, str]] = {
    401: (40110000, "request is not authorized"),
    403: (40310000, "forbidden"),
    422: (42210000, "request is not processable"),
    429: (42910000, "rate limit exceeded"),
    500: (50000000, "internal server error"),
    502: (50200000, "bad gateway"),
    503: (50300000, "service unavailable"),
    504: (50400000, "gateway timeout"),
}


@dataclass
class Fault:
    endpoint: str  # "POST /v2/orders", "GET /v2/orders/{id}", "GET /stream" or "*"
    kind: str
    count: int | None = None
    probability: float | None = None
    ms: float = 0.0
    status: int = 503
    retry_after: int | None = None
    code: int | None = None  # http_status: the body's code and message (default per status)
    message: str | None = None
    seconds: float = 0.0
    fired: int = field(default=0)

    def describe(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def build(spec: dict[str, Any]) -> Fault:
    kind = spec.get("kind")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    endpoint = str(spec.get("endpoint") or (STREAM_ENDPOINT if kind in STREAM_KINDS else ""))
    if not endpoint:
        raise ValueError('endpoint is required, e.g. "POST /v2/orders" or "*"')
    count, probability = spec.get("count"), spec.get("probability")
    if count is None and probability is None:
        count = 1
    if count is not None and int(count) < 1:
        raise ValueError("count must be >= 1")
    if probability is not None and not 0 < float(probability) <= 1:
        raise ValueError("probability must be in (0, 1]")
    status = int(spec.get("status", 503))
    if kind == "http_status" and status not in HTTP_STATUSES:
        raise ValueError(f"status must be one of {HTTP_STATUSES}")
    retry_after = spec.get("retry_after")
    code, message = spec.get("code"), spec.get("message")
    return Fault(
        endpoint=endpoint, kind=kind,
        count=None if count is None else int(count),
        probability=None if probability is None else float(probability),
        ms=float(spec.get("ms", 0)), status=status,
        retry_after=None if retry_after is None else int(retry_after),
        code=None if code is None else int(code),
        message=None if message is None else str(message),
        seconds=float(spec.get("seconds", 0)),
    )


def body(fault: Fault) -> dict[str, Any]:
    """The Alpaca-shaped error body an http_status fault answers with."""
    code, message = DEFAULT_BODIES[fault.status]
    return {"code": fault.code if fault.code is not None else code,
            "message": fault.message if fault.message is not None else message}


class Faults:
    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"faults:{seed}")
        self.active: list[Fault] = []
        # Every fault that fired, keyed "kind" and "ENDPOINT kind" (GET /control/fault_counts);
        # a storm's record needs them after count-limited faults have left `active`.
        self.injected: Counter[str] = Counter()

    def add(self, fault: Fault) -> None:
        self.active.append(fault)

    def clear(self) -> None:
        self.active.clear()

    def take(self, endpoint: str, stream: bool = False) -> Fault | None:
        """The fault to apply to this request (or stream event), consuming one use of it."""
        for fault in self.active:
            if (fault.kind in STREAM_KINDS) != stream:
                continue
            if fault.endpoint not in ("*", endpoint):
                continue
            if fault.probability is not None and self._rng.random() >= fault.probability:
                continue
            fault.fired += 1
            self.injected[fault.kind] += 1
            self.injected[f"{endpoint} {fault.kind}"] += 1
            if fault.count is not None:
                fault.count -= 1
                if fault.count <= 0:
                    self.active.remove(fault)
            return fault
        return None
