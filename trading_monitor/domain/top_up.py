"""RESIZE: a position that grew is protected by topping its protection up, not by replacing it.

Alpaca holds the shares a closing order covers and takes a second closing order for the
shares the first does not hold (/work/shared/alpaca/order-facts.md §4: "once shares are
allocated to an order they can't be used by another"; the rest are available). So the added
shares get their own stop (or OCO), and the protection in place stays: cancelling it first
left the added shares, and then all of them, without a stop while that cancel was pending.
Anything else holding shares (a lone target, a stop whose cancel is pending) still goes
before new protection, on the broker's final word.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from trading_monitor.domain.lifecycle import OrderRole


class _Exit(Protocol):
    @property
    def row_id(self) -> int: ...
    @property
    def parent_row_id(self) -> int | None: ...
    @property
    def role(self) -> OrderRole: ...
    @property
    def protects(self) -> bool: ...


def _group(o: _Exit) -> int:
    """An OCO's legs hang from its target; a bracket's from its entry; a stop is alone."""
    return o.parent_row_id if o.parent_row_id is not None else o.row_id


def only_protection(live: Iterable[_Exit], exits: Iterable[_Exit]) -> bool:
    """Every live closing order is a protecting stop or in a group whose stop protects: what
    holds the shares protects them, so a top-up for the rest is all that is missing."""
    covering = {_group(s) for s in exits if s.role is OrderRole.STOP_LOSS and s.protects}
    return all(_group(o) in covering for o in live)
