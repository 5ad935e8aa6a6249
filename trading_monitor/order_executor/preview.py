"""What a dry run says it would send: the very order request the real run would send.

The real run writes the intent (`Ledger.write_intent`) and sends `order_request(intent)`;
the dry run writes nothing, so it builds the same request here from the same plan (its time
in force is the broker's, GTC for a SWING bracket, not the decision's DAY) and prints every
field of it. `tests/integration/test_safety_dry_run.py` holds the two side by side.
"""

from __future__ import annotations

from dataclasses import fields

from trading_monitor.broker.models import OrderRequest
from trading_monitor.domain.decision import Decision
from trading_monitor.domain.lifecycle import OrderRole, client_order_id
from trading_monitor.ledger.intents import IntentPlan


def entry_request(installation: str, d: Decision, plan: IntentPlan, attempt: int = 1
                  ) -> OrderRequest:
    """The entry as `write_intent` records it and `order_request` sends it."""
    legs = plan.order_class != "simple"  # a staged entry goes alone; its stop comes later
    return OrderRequest(
        client_order_id=client_order_id(installation, d.decision_id, OrderRole.ENTRY, attempt),
        symbol=d.ticker, side=d.side.value if d.side else "?", qty=d.order_quantity,
        order_type="limit", time_in_force=plan.broker_time_in_force,
        limit_price=d.entry_price, stop_price=None, order_class=plan.order_class,
        take_profit_limit=d.take_profit if legs else None,
        stop_loss_stop=d.stop_loss if legs else None)


def summary(r: OrderRequest) -> str:
    """The words the real run's outcome uses (`Intent.describe`)."""
    text = f"{r.side} {_plain(r.qty)} {r.symbol} limit {r.limit_price}"
    if r.stop_loss_stop is not None:
        text += f", stop {r.stop_loss_stop}"
    if r.take_profit_limit is not None:
        text += f", take profit {r.take_profit_limit}"
    return f"{text}, {r.time_in_force}, {r.order_class}"


def every_field(r: OrderRequest) -> str:
    """Every field the request carries (None: not sent)."""
    return " ".join(f"{f.name}={_plain(getattr(r, f.name))}" for f in fields(r)
                    if getattr(r, f.name) is not None)


def describe(r: OrderRequest, plan: IntentPlan) -> str:
    text = f"{summary(r)} [{every_field(r)}]"
    if plan.entry_expires_at is not None:
        text += f"; unfilled, withdrawn by us at {plan.entry_expires_at.isoformat()}"
    return text


def _plain(value: object) -> str:
    return format(value.normalize(), "f") if hasattr(value, "normalize") else str(value)
