"""Corporate actions as trading-monitor acts on them (pure).

Alpaca lists them at GET /v1/corporate-actions grouped by kind (`forward_splits`,
`reverse_splits`, `name_changes`, `cash_mergers`, ...), each kind with its own field names
(alpaca-py's data/models/corporate_actions.py). `parse_listing` reads every group it knows
into one `Announcement` shape and skips the rest; a field it does not know is never looked at.

- splits (forward, reverse, unit) adjust our books: quantities x ratio, prices / ratio;
- a name change (or a reverse split's `new_symbol`) carries the trade to the new symbol;
- mergers, spin-offs, worthless removals and redemptions end or change the security: an
  ALERT the trading day before, flagged by `status` and the report, and no new entry that day;
- dividends block nothing and change nothing here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

SPLITS = ("forward_split", "reverse_split", "unit_split")
NAME_CHANGE = "name_change"
# Actions that end the security or change it into another: an entry that day is refused.
ENDING = ("cash_merger", "stock_merger", "stock_and_cash_merger", "spin_off",
          "worthless_removal", "redemption")
BLOCKING = (*SPLITS, NAME_CHANGE, *ENDING)

# group -> (kind, old-symbol field, new-symbol field, date fields in order of preference)
GROUPS: Mapping[str, tuple[str, str, str | None, tuple[str, ...]]] = {
    "forward_splits": ("forward_split", "symbol", None, ("ex_date", "process_date")),
    "reverse_splits": ("reverse_split", "symbol", "new_symbol", ("ex_date", "process_date")),
    "unit_splits": ("unit_split", "old_symbol", "new_symbol",
                    ("effective_date", "process_date")),
    "name_changes": ("name_change", "old_symbol", "new_symbol", ("process_date",)),
    "cash_mergers": ("cash_merger", "acquiree_symbol", None,
                     ("effective_date", "process_date")),
    "stock_mergers": ("stock_merger", "acquiree_symbol", "acquirer_symbol",
                      ("effective_date", "process_date")),
    "stock_and_cash_mergers": ("stock_and_cash_merger", "acquiree_symbol", "acquirer_symbol",
                               ("effective_date", "process_date")),
    "spin_offs": ("spin_off", "source_symbol", "new_symbol", ("ex_date", "process_date")),
    "worthless_removals": ("worthless_removal", "symbol", None, ("process_date",)),
    "redemptions": ("redemption", "symbol", None, ("process_date", "payable_date")),
}
ONE = Decimal(1)
# How far back an action still counts: Alpaca applies (or we see) a split days late.
LOOK_BACK = timedelta(days=10)


@dataclass(frozen=True)
class Announcement:
    id: str
    kind: str
    symbol: str
    new_symbol: str | None
    old_rate: Decimal
    new_rate: Decimal
    effective: date  # the ex-date (or the date the action takes effect)

    @property
    def ratio(self) -> Decimal:
        """New shares per old share (2 for a 2-for-1 split, 0.1 for a 1-for-10). Rounded where
        it does not end (1/3): quantities and prices go through `scale` and `unscale`."""
        return self.new_rate / self.old_rate if self.kind in SPLITS else ONE

    def scale(self, qty: Decimal) -> Decimal:
        """`qty` old shares in new ones, multiplied before it is divided: 18 shares after a
        1-for-3 are 6, not the 5.999… that 18 × (1/3) gives, whose whole part is 5."""
        return qty * self.new_rate / self.old_rate if self.kind in SPLITS else qty

    def unscale(self, price: Decimal) -> Decimal:
        """An old share's price as a new share's (540 after a 1-for-3 of 180, exactly)."""
        return price * self.old_rate / self.new_rate if self.kind in SPLITS else price

    @property
    def renames(self) -> bool:
        return self.kind in (*SPLITS, NAME_CHANGE) and bool(self.new_symbol) \
            and self.new_symbol != self.symbol

    @property
    def adjusts(self) -> bool:
        """Whether our books change: a split or a symbol change."""
        return self.kind in SPLITS or (self.kind == NAME_CHANGE and self.renames)

    @property
    def ends(self) -> bool:
        return self.kind in ENDING

    def describe(self) -> str:
        what = self.kind.replace("_", " ")
        if self.kind in SPLITS:
            what += f" {_plain(self.new_rate)} for {_plain(self.old_rate)}"
        if self.renames:
            what += f", new symbol {self.new_symbol}"
        return f"{self.symbol}: {what} on {self.effective.isoformat()} (id {self.id})"


def parse_listing(body: Any) -> list[Announcement]:
    """Every announcement of a kind we know in one answer's `corporate_actions`; an item
    without an id, a symbol or a date is skipped (it names nothing we could act on)."""
    groups = body.get("corporate_actions") if isinstance(body, Mapping) else None
    found: list[Announcement] = []
    for group, items in (groups or {}).items() if isinstance(groups, Mapping) else ():
        shape = GROUPS.get(group)
        if shape is None or not isinstance(items, list):
            continue
        for item in items:
            parsed = _item(shape, item) if isinstance(item, Mapping) else None
            if parsed is not None:
                found.append(parsed)
    return found


def _item(shape: tuple[str, str, str | None, tuple[str, ...]], item: Mapping[str, Any]
          ) -> Announcement | None:
    kind, old_field, new_field, dates = shape
    symbol = str(item.get(old_field) or "").upper()
    day = next((d for d in (_day(item.get(f)) for f in dates) if d is not None), None)
    if not item.get("id") or not symbol or day is None:
        return None
    new_symbol = str(item.get(new_field) or "").upper() if new_field else ""
    old_rate = _rate(item.get("old_rate")) if kind in SPLITS else ONE
    new_rate = _rate(item.get("new_rate")) if kind in SPLITS else ONE
    if old_rate is None or new_rate is None:
        return None
    return Announcement(id=str(item["id"]), kind=kind, symbol=symbol,
                        new_symbol=new_symbol or None, old_rate=old_rate, new_rate=new_rate,
                        effective=day)


def _day(raw: Any) -> date | None:
    try:
        return date.fromisoformat(str(raw)[:10]) if raw else None
    except ValueError:
        return None


def _rate(raw: Any) -> Decimal | None:
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() and value > 0 else None


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def split_qty(exact: Decimal) -> tuple[Decimal, Decimal]:
    """(whole shares, fraction) of a split's `exact` new shares (Announcement.scale); the
    fraction is what Alpaca may pay as cash in lieu (towards zero for a short's too)."""
    whole = exact.to_integral_value(ROUND_DOWN)
    return whole, exact - whole


def from_row(row: Mapping[str, Any]) -> Announcement:
    """A stored announcement (table `corporate_action`) as the shape the rules use."""
    return Announcement(id=row["action_id"], kind=row["kind"], symbol=row["symbol"],
                        new_symbol=row["new_symbol"], old_rate=row["old_rate"],
                        new_rate=row["new_rate"], effective=row["effective_date"])
