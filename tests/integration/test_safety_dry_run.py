"""A dry run prints exactly the order the real run sends, every field included.

For a SWING NEW_TRADE the dry run said "… day, bracket" while the real run sent a GTC
bracket (Alpaca gives a bracket one time in force; SWING protection must outlive the day).
Here the dry run's fields are compared with the order the paper exchange then receives.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from tests.helpers import add_decision, entry, outcome

D = Decimal


def _fields(text: str) -> dict[str, str]:
    found = re.search(r"\[([^\]]*)\]", text)
    assert found, text
    return dict(part.split("=", 1) for part in found.group(1).split())


def _as_sent(order: dict) -> dict[str, str]:
    """The broker's order in the request's own field names."""
    legs = {leg["order_type"]: leg for leg in order.get("legs") or []}
    sent = {"client_order_id": order["client_order_id"], "symbol": order["symbol"],
            "side": order["side"], "qty": order["qty"], "order_type": order["order_type"],
            "time_in_force": order["time_in_force"], "limit_price": order["limit_price"],
            "order_class": order["order_class"] or "simple"}
    if "limit" in legs:
        sent["take_profit_limit"] = legs["limit"]["limit_price"]
    if "stop" in legs:
        sent["stop_loss_stop"] = legs["stop"]["stop_price"]
    return {k: str(D(v).normalize()) if k.endswith(("price", "limit", "stop", "qty")) else v
            for k, v in sent.items()}


@pytest.mark.parametrize("mode, body, words", [
    ("bracket", entry(), "gtc, bracket"),
    ("staged", entry(trade_style="DAYTRADE", take_profit=None), "day, simple"),
])
def test_the_dry_run_describes_the_order_the_real_run_sends(db, jobs, exchange, mode, body, words):
    jobs = jobs.with_settings(PROTECTION_MODE=mode)
    d = add_decision(db, body)
    dry = jobs.executor(dry_run=True)
    [(_, _, label, text)] = dry.outcomes
    assert label == "DRY_RUN" and words in text, text
    real = jobs.executor()
    assert outcome(db, d)["terminal_state"] == "EXECUTED", real.outcomes
    assert text.split(" [")[0].removeprefix("dry run: would submit ") in \
        outcome(db, d)["reason"], (text, outcome(db, d)["reason"])
    [order] = [o for o in exchange.control.orders() if o.get("parent_id") is None]
    order["legs"] = [o for o in exchange.control.orders() if o.get("parent_id") == order["id"]]
    assert {k: str(D(v).normalize()) if k.endswith(("price", "limit", "stop", "qty")) else v
            for k, v in _fields(text).items()} == _as_sent(order)
