"""Reconciliation: our books against what the broker holds. Pure.

The caller turns broker positions and open orders, and our open trades, into the small
views below; `reconcile` lists every disagreement. Deciding what to do about each (wait out
a lag, close, adopt, protect) is the position monitor's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum

from trading_monitor.domain.order_status import OrderStatus
from trading_monitor.domain.sides import Side

ZERO = Decimal(0)
STOP_TYPES = frozenset({"stop", "stop_limit", "trailing_stop"})
_OUR_ID = re.compile(r"^tm-([0-9a-z]+)-")


class IssueKind(str, Enum):
    GONE_AT_BROKER = "GONE_AT_BROKER"  # (a) tracked, but the broker holds none
    UNTRACKED = "UNTRACKED"  # (b) at the broker, no trade of ours explains it
    QTY_MISMATCH = "QTY_MISMATCH"  # (c) both hold it, in different quantities
    UNPROTECTED = "UNPROTECTED"  # (d) no live stop at the broker for the full quantity
    SHARED_ACCOUNT = "SHARED_ACCOUNT"  # another installation trades this account


@dataclass(frozen=True)
class HeldPosition:
    symbol: str
    qty: Decimal  # signed: negative is short
    avg_entry_price: Decimal


@dataclass(frozen=True)
class OpenOrder:
    symbol: str
    side: str
    order_type: str
    qty: Decimal
    filled_qty: Decimal
    status: str
    client_order_id: str
    parent_filled: bool = True  # False: a bracket leg whose entry is not complete (held)


@dataclass(frozen=True)
class OurTrade:
    journal_id: int
    symbol: str
    qty: Decimal  # signed position per our fills (0 while an entry has not filled)
    status: str  # PENDING | POSITION
    entry_working: bool = False
    bracket_partial: bool = False  # a bracket entry still partly filled: its bounded window


@dataclass(frozen=True)
class Issue:
    kind: IssueKind
    symbol: str
    journal_id: int | None = None
    detail: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.kind.value}:{self.symbol}:{self.journal_id or ''}"


def other_installations(orders: list[OpenOrder], ours: str) -> set[str]:
    found = set()
    for o in orders:
        match = _OUR_ID.match(o.client_order_id)
        if match and match.group(1) != ours:
            found.add(match.group(1))
    return found


def stop_cover(orders: list[OpenOrder], symbol: str, exit_side: str) -> Decimal:
    """Shares live stops at the broker would close (a held leg of an incomplete bracket
    entry does not count; a held stop of a filled bracket does)."""
    return sum((o.qty - o.filled_qty for o in orders
                if o.symbol == symbol and o.side == exit_side and o.order_type in STOP_TYPES
                and OrderStatus(o.status).protects and o.parent_filled), ZERO)


def reconcile(positions: list[HeldPosition], orders: list[OpenOrder], trades: list[OurTrade],
              installation: str) -> list[Issue]:
    issues: list[Issue] = []
    others = other_installations(orders, installation)
    if others:
        issues.append(Issue(IssueKind.SHARED_ACCOUNT, "*",
                            detail={"installations": ",".join(sorted(others))}))
    held = {p.symbol: p for p in positions if p.qty != 0}
    by_symbol: dict[str, list[OurTrade]] = {}
    for t in trades:
        by_symbol.setdefault(t.symbol, []).append(t)
    for symbol in sorted(set(held) | set(by_symbol)):
        ours = by_symbol.get(symbol, [])
        our_qty = sum((t.qty for t in ours), ZERO)
        broker_qty = held[symbol].qty if symbol in held else ZERO
        issues += _position_issues(symbol, ours, our_qty, broker_qty, bool(others))
        if broker_qty != 0 and ours:
            issues += _protection_issue(symbol, ours, broker_qty, orders)
    return issues


def _position_issues(symbol: str, ours: list[OurTrade], our_qty: Decimal, broker_qty: Decimal,
                     shared: bool) -> list[Issue]:
    detail = {"ours": str(our_qty), "broker": str(broker_qty)}
    if our_qty == broker_qty:
        return []
    if broker_qty == 0:
        return [Issue(IssueKind.GONE_AT_BROKER, symbol, t.journal_id, detail)
                for t in ours if t.qty != 0]
    # An entry of ours still working explains only what it filled, and the sync has booked
    # that (filled_qty before the fill feed); a fill it has not seen yet clears within the
    # adoption grace. (The model found the trader's own share left unadopted, unprotected,
    # all the while our resting entry worked.)
    if our_qty == 0:
        kind = IssueKind.SHARED_ACCOUNT if shared else IssueKind.UNTRACKED
        return [Issue(kind, symbol, None, detail)]
    return [Issue(IssueKind.QTY_MISMATCH, symbol, ours[0].journal_id, detail)]


def _protection_issue(symbol: str, ours: list[OurTrade], broker_qty: Decimal,
                      orders: list[OpenOrder]) -> list[Issue]:
    if any(t.bracket_partial for t in ours):
        return []  # the order monitor's bounded window, not an emergency
    covered = stop_cover(orders, symbol, Side.holding(broker_qty).exit.value)
    if covered >= abs(broker_qty):
        return []
    trade = next((t for t in ours if t.qty != 0), ours[0])
    return [Issue(IssueKind.UNPROTECTED, symbol, trade.journal_id,
                  {"position": str(broker_qty), "stop_cover": str(covered)})]
