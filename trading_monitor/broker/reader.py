"""Reading one JSON object from Alpaca tolerantly, and loudly where it matters.

- a field listed in `needed.NEEDED` for the object's kind must be present: if not, a
  `BrokerContractError` names the endpoint and the field (never a silent deferral);
- any other field may be missing and takes its default; unknown fields are never looked at;
- a value we cannot read (a number that is not one, a time that is not one) in a field we
  need is a contract error as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import TypeAdapter, ValidationError

from trading_monitor.broker import known
from trading_monitor.broker.needed import needed
from trading_monitor.exceptions import BrokerContractError

_TIME: TypeAdapter[datetime] = TypeAdapter(datetime)


class Body:
    """One object of `kind` (a key of NEEDED) that came from `endpoint`."""

    __slots__ = ("endpoint", "kind", "raw")

    def __init__(self, raw: Any, kind: str, endpoint: str):
        if not isinstance(raw, Mapping):
            raise BrokerContractError(endpoint, kind,
                                      f"is not a JSON object ({type(raw).__name__})")
        self.raw: Mapping[str, Any] = raw
        self.kind = kind
        self.endpoint = endpoint

    def _broken(self, name: str, problem: str = "is missing") -> BrokerContractError:
        return BrokerContractError(self.endpoint, f"{self.kind}.{name}", problem)

    def need(self, name: str) -> Any:
        """A field we need: present, though it may be null where Alpaca allows that."""
        # A programming error, not the broker's: keep NEEDED the one honest list.
        assert name in needed(self.kind), f"{self.kind}.{name} is read as needed but not listed"
        if name not in self.raw:
            raise self._broken(name)
        return self.raw[name]

    def get(self, name: str, default: Any = None) -> Any:
        value = self.raw.get(name, default)
        return default if value is None else value

    def value(self, name: str) -> Any:
        """`need` for a NEEDED field, `get` for any other (used by shared helpers)."""
        return self.need(name) if name in needed(self.kind) else self.get(name)

    def text(self, name: str) -> str:
        """A string field ("" when null or optional and absent); an enum value we do not
        know is kept as sent and logged once."""
        value = self.value(name)
        result = "" if value is None else str(value)
        if result:
            known.note_unknown(self.kind, name, result)
        return result

    def need_text(self, name: str) -> str:
        result = self.text(name)
        if not result:
            raise self._broken(name, "is empty")
        return result

    def dec(self, name: str) -> Decimal | None:
        value = self.value(name)
        if value is None or value == "":
            return None
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise self._broken(name, f"is not a number ({str(value)[:40]!r})") from None
        if not number.is_finite():
            raise self._broken(name, "is not a finite number")
        return number

    def need_dec(self, name: str) -> Decimal:
        number = self.dec(name)
        if number is None:
            raise self._broken(name, "is null")
        return number

    def time(self, name: str) -> datetime | None:
        value = self.value(name)
        if value is None or value == "":
            return None
        try:
            return when(value)
        except (ValidationError, ValueError, TypeError):
            raise self._broken(name, f"is not a time ({str(value)[:40]!r})") from None

    def need_time(self, name: str) -> datetime:
        moment = self.time(name)
        if moment is None:
            raise self._broken(name, "is null")
        return moment

    def flag(self, name: str) -> bool:
        value = self.value(name)
        if isinstance(value, str):
            return value.strip().lower() == "true"
        return bool(value)

    def list(self, name: str) -> list[Any]:
        value = self.value(name)
        return list(value) if isinstance(value, (list, tuple)) else []


def when(value: Any) -> datetime | None:
    """An ISO 8601 time as Alpaca writes it ("Z", 3 to 9 fraction digits), parsed by pydantic."""
    if value is None or value == "" or isinstance(value, datetime):
        return value or None
    return _TIME.validate_python(value)


def rows(page: Any, endpoint: str) -> list[Any]:
    """A list body; anything else (a dict, null) is a contract error, not an empty list."""
    if isinstance(page, list):
        return page
    raise BrokerContractError(endpoint, "(body)", f"is not a JSON list ({type(page).__name__})")
