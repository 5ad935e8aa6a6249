"""Formatting for the cockpit's HTML: every value escaped, money and times one way."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from html import escape
from typing import Any

from trading_monitor.cli import book


def e(value: Any) -> str:
    """A cell: escaped text, an em dash for nothing."""
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return escape(when(value))
    return escape(str(value))


def when(at: datetime | None) -> str:
    return "—" if at is None else at.astimezone(book.NEW_YORK).strftime("%Y-%m-%d %H:%M:%S %Z")


def money(value: Decimal | None, *, sign: bool = False) -> str:
    if value is None:
        return "—"
    mark = ("-" if value < 0 else "+" if value > 0 and sign else "")
    text = f"{mark}${abs(value):,.2f}"  # -$50.00, +$36.00
    css = "neg" if sign and value < 0 else "pos" if sign and value > 0 else ""
    return f'<span class="{css}">{escape(text)}</span>' if css else escape(text)


def price(value: Decimal | None) -> str:
    return "—" if value is None else escape(f"{Decimal(value).normalize():f}")


def qty(value: Decimal) -> str:
    return escape(f"{Decimal(value).normalize():f}")
