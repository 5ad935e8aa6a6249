"""Order intents: the rows written (and committed) before an order goes out, and reading
them back. A client order id is derived from these rows, so a retry finds the same order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from trading_monitor.broker.models import OrderRequest
from trading_monitor.db.connection import Row, TradingDB
from trading_monitor.domain.decision import Decision
from trading_monitor.domain.lifecycle import OrderRole


@dataclass(frozen=True)
class IntentPlan:
    """How a decision goes to the broker: the part of the intent that is not the decision."""

    protection_mode: str  # bracket | staged
    order_class: str  # simple | bracket | oto
    broker_time_in_force: str  # what the broker is told (one per bracket, legs included)
    entry_expires_at: datetime | None  # when we withdraw a DAY entry the broker holds as GTC
    protection_time_in_force: str


@dataclass(frozen=True)
class Intent:
    """One journal row and one row per order leg; the last entry row is the live attempt."""

    journal_id: int
    entry: Row
    legs: tuple[Row, ...]
    attempts: int = 1  # entry rows of this decision so far (a refused bracket adds one)

    @property
    def client_order_id(self) -> str:
        return str(self.entry["client_order_id"])

    @property
    def decision_id(self) -> int:
        return int(self.entry["analysis_decision_id"])

    @property
    def replaces_entry_id(self) -> int | None:
        value = self.entry["replaces_order_execution_id"]
        return int(value) if value is not None else None

    @property
    def action(self) -> str:
        """The action this intent was written for (AMEND intents replace an older entry)."""
        return "AMEND" if self.replaces_entry_id is not None else "NEW_TRADE"

    def leg_price(self, role: OrderRole) -> Decimal | None:
        for leg in self.legs:
            if leg["order_role"] == role.value:
                return leg["stop_price"] if role is OrderRole.STOP_LOSS else leg["limit_price"]
        return None

    def describe(self) -> str:
        """What was (or will be) sent, from our rows: never from a decision edited since."""
        e = self.entry
        text = f"{e['side']} {_plain(e['qty'])} {e['symbol']} limit {e['limit_price']}"
        stop = self.leg_price(OrderRole.STOP_LOSS)
        if stop is not None:
            text += f", stop {stop}"
        take = self.leg_price(OrderRole.TAKE_PROFIT)
        if take is not None:
            text += f", take profit {take}"
        return f"{text}, {e['time_in_force']}, {e['order_class']}"


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f") if isinstance(value, Decimal) else str(value)


def load_intent(db: TradingDB, decision_id: int) -> Intent | None:
    rows = db.named("orders_for_decision", {"decision_id": decision_id})
    entries = [r for r in rows if r["order_role"] == OrderRole.ENTRY.value]
    if not entries:
        return None
    entry = entries[-1]
    legs = tuple(r for r in rows if r["parent_order_execution_id"] == entry["id"])
    return Intent(journal_id=int(entry["trade_journal_id"]), entry=entry, legs=legs,
                  attempts=len(entries))


def order_request(intent: Intent) -> OrderRequest:
    e = intent.entry
    return OrderRequest(
        client_order_id=e["client_order_id"], symbol=e["symbol"], side=e["side"], qty=e["qty"],
        order_type=e["order_type"], time_in_force=e["time_in_force"],
        limit_price=e["limit_price"], stop_price=e["stop_price"], order_class=e["order_class"],
        take_profit_limit=intent.leg_price(OrderRole.TAKE_PROFIT),
        stop_loss_stop=intent.leg_price(OrderRole.STOP_LOSS),
    )


def plan_for(d: Decision, protection_mode: str, session_close: datetime | None) -> IntentPlan:
    """Choose order class and times in force (docs/decision-contract.md, "Time in force").

    Alpaca gives a bracket one time in force for all its orders. A SWING position must be
    protected overnight, so its bracket goes out GTC; when the trader asked for a DAY entry
    we withdraw the unfilled entry at the session close ourselves (`entry_expires_at`).
    """
    entry_tif = d.order_time_in_force.value
    protection_tif = d.protection_time_in_force.value
    if protection_mode == "staged":
        return IntentPlan("staged", "simple", entry_tif, None, protection_tif)
    order_class = "bracket" if d.take_profit is not None else "oto"
    broker_tif = "gtc" if protection_tif == "gtc" else entry_tif
    expires = session_close if broker_tif == "gtc" and entry_tif == "day" else None
    return IntentPlan("bracket", order_class, broker_tif, expires, protection_tif)
