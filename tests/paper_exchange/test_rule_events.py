"""trade_updates the exchange sends for refusals and held legs: order_cancel_rejected,
order_replace_rejected (always) and held (a switch, off by default)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.paper_exchange.conftest import wait_until
from tests.paper_exchange.raw import get, patch, post, refusal


@pytest.fixture(autouse=True)
def _price(ctl):  # type: ignore[no-untyped-def]
    ctl.set_price("AAPL", Decimal("100"))


def names(stream, order_id):  # type: ignore[no-untyped-def]
    return [name for name, oid in stream.events() if oid == order_id]


def test_a_refused_cancel_is_told_on_the_stream(raw_client, ctl, stream):
    ctl.set_cancel_behavior("refuse", client_order_id="stuck")
    order = post(raw_client, limit_price=99, client_order_id="stuck")
    status, code, _ = refusal(raw_client.delete, f"/orders/{order['id']}")
    assert (status, code) == (422, 42210000)
    wait_until(lambda: names(stream, order["id"]) == ["new", "order_cancel_rejected"])
    update = stream.updates[-1]
    assert update.event == "order_cancel_rejected" and update.order.status == "new"


def test_a_refused_replace_is_told_on_the_stream(raw_client, ctl, stream):
    ctl.set_cancel_behavior("pending", seconds=30)
    order = post(raw_client, limit_price=99)
    raw_client.delete(f"/orders/{order['id']}")
    assert refusal(patch, raw_client, order["id"], limit_price=98)[0] == 422
    wait_until(lambda: names(stream, order["id"]) == ["new", "pending_cancel",
                                                      "order_replace_rejected"])


def test_held_legs_are_silent_unless_switched_on(raw_client, ctl, stream):
    ctl.advance(7 * 3600)  # closed: the bracket's entry waits, its legs are held
    bracket = {"type": "market", "tif": "gtc", "order_class": "bracket",
               "take_profit": {"limit_price": "110"}, "stop_loss": {"stop_price": "95"}}
    quiet = post(raw_client, **bracket)
    ctl.set_rules(held_events=True)
    loud = post(raw_client, qty=1, **bracket)
    loud_legs = {leg["id"] for leg in loud["legs"]}
    wait_until(lambda: sum(1 for n, o in stream.events() if o in loud_legs) == 2)
    assert {n for n, o in stream.events() if o in loud_legs} == {"held"}
    assert [n for n, o in stream.events() if o in {leg["id"] for leg in quiet["legs"]}] == []


def test_a_replace_refused_on_demand(raw_client, ctl, stream):
    ctl.set_replace_behavior("refuse", client_order_id="stiff")
    order = post(raw_client, limit_price=99, client_order_id="stiff")
    assert refusal(patch, raw_client, order["id"], limit_price=98) == (
        422, 42210000, "order is not replaceable")
    wait_until(lambda: names(stream, order["id"]) == ["new", "order_replace_rejected"])
    assert ctl.fault_counts()["replace_refused"] == 1


def test_a_replace_accepted_then_rejected_leaves_the_old_order_live(raw_client, ctl, stream):
    # R14: a 200 to the PATCH does not guarantee the replacement.
    ctl.set_replace_behavior("reject_after_accept")
    order = post(raw_client, limit_price=99)
    new = patch(raw_client, order["id"], limit_price="99.5")
    assert (new["replaces"], new["status"], new["limit_price"]) == (order["id"], "new", "99.5")
    assert get(raw_client, new["id"])["status"] == "rejected"
    old = get(raw_client, order["id"])
    assert (old["status"], old["replaced_by"], old["limit_price"]) == ("new", None, "99")
    wait_until(lambda: names(stream, order["id"]) == ["new", "order_replace_rejected"]
               and names(stream, new["id"]) == ["rejected"])
    ctl.set_price("AAPL", Decimal("99"))
    assert get(raw_client, order["id"])["status"] == "filled"  # the old order still worked
    assert ctl.set_replace_behavior("accept") == {"orders": {}}
