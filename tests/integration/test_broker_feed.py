"""What the order monitor reads and sends through AlpacaBroker, against the paper exchange:
fill activities after a cursor, every open order, and protective exits (stop, OCO, market)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from tests.conftest import MARKET_OPEN
from trading_monitor.broker.models import BrokerOrder, FillActivity, OrderRequest
from trading_monitor.exceptions import RejectedError, TemporaryError

D = Decimal
FILLS = "GET /v2/account/activities/{activity_type}"
ORDERS = "GET /v2/orders"


@pytest.fixture
def ctl(exchange):
    return exchange.control


def market(cid: str, side: str = "buy", qty: int = 10, symbol: str = "AAPL") -> OrderRequest:
    return OrderRequest(cid, symbol, side, D(qty), "market", "day")


def resting(cid: str, symbol: str = "AAPL", price: str = "1.00") -> OrderRequest:
    return OrderRequest(cid, symbol, "buy", D(1), "limit", "gtc", limit_price=D(price))


def stop_exit(cid: str, qty: int = 10, stop: str = "170.00", tif: str = "gtc") -> OrderRequest:
    return OrderRequest(cid, "AAPL", "sell", D(qty), "stop", tif, stop_price=D(stop))


def oco_exit(cid: str, qty: int = 10, take_profit: str = "190.00", stop: str = "170.00",
             **kw) -> OrderRequest:
    return OrderRequest(cid, "AAPL", "sell", D(qty), "limit", kw.pop("tif", "gtc"),
                        order_class="oco", take_profit_limit=D(take_profit),
                        stop_loss_stop=D(stop), **kw)


# -- fill activities after a cursor ---------------------------------------------------------


def test_fill_activities_after_a_cursor_oldest_first(broker, ctl):
    orders = []
    for i, qty in enumerate((1, 2, 3)):
        orders.append(broker.submit_order(market(f"fa-{i}", qty=qty)))
        ctl.advance(1)
    ctl.reset_counters()
    fills = broker.fill_activities_after(None)
    assert ctl.counters() == {FILLS: 1}
    assert [f.order_id for f in fills] == [o.id for o in orders]
    assert [f.qty for f in fills] == [D(1), D(2), D(3)]
    first = fills[0]
    assert isinstance(first, FillActivity) and first.kind == "fill"
    assert first.cum_qty == D(1) and first.leaves_qty == D(0)
    assert isinstance(first.cum_qty, Decimal) and isinstance(first.price, Decimal)
    assert first.transaction_time == MARKET_OPEN
    assert broker.fill_activities_after(fills[0].id) == fills[1:]
    assert broker.fill_activities_after(fills[-1].id) == []
    # `since` is a time, used only without an id; `after` is exclusive
    assert broker.fill_activities_after(None, since=fills[0].transaction_time) == fills[1:]
    assert broker.fill_activities_after(fills[1].id, since=MARKET_OPEN) == fills[2:]
    assert broker.fill_activities(MARKET_OPEN - timedelta(days=1)) == fills  # delegates


def test_partial_fills_carry_kind_cum_and_leaves(broker, ctl):
    ctl.set_partial_fill(symbol="AAPL", ratio=D("0.4"))
    order = broker.submit_order(market("pf-1", qty=10))
    (part,) = broker.fill_activities_after(None)
    assert (part.kind, part.qty, part.cum_qty, part.leaves_qty) == (
        "partial_fill", D(4), D(4), D(6))
    assert broker.get_order(order.id).status == "partially_filled"
    ctl.advance(1)
    (rest,) = broker.fill_activities_after(part.id)
    assert (rest.kind, rest.qty, rest.cum_qty, rest.leaves_qty) == ("fill", D(6), D(10), D(0))
    assert rest.order_id == part.order_id == order.id


def test_fill_activities_after_follows_pages_until_a_short_one(broker, ctl):
    for i in range(200):
        broker.submit_order(market(f"many-{i}", qty=1, symbol="AMD"))
    ctl.reset_counters()
    fills = broker.fill_activities_after(None)
    assert len(fills) == 200 and len({f.id for f in fills}) == 200
    assert ctl.counters() == {FILLS: 3}  # 100, 100, then an empty page proves the end
    assert [f.id for f in fills] == sorted(f.id for f in fills)  # oldest first
    ctl.reset_counters()
    assert broker.fill_activities_after(fills[49].id) == fills[50:]
    assert ctl.counters() == {FILLS: 2}  # 100, then 50
    ctl.reset_counters()
    assert broker.fill_activities_after(fills[-1].id) == []
    assert ctl.counters() == {FILLS: 1}


# -- every open order ----------------------------------------------------------------------


def test_list_open_orders_nests_legs_and_leaves_out_closed_orders(broker, ctl):
    waiting = broker.submit_order(OrderRequest(
        "lo-br-1", "MSFT", "buy", D(5), "limit", "gtc", limit_price=D("419.00"),
        order_class="bracket", take_profit_limit=D("440.00"), stop_loss_stop=D("400.00")))
    filled_entry = broker.submit_order(OrderRequest(
        "lo-br-2", "NVDA", "buy", D(3), "market", "gtc", order_class="bracket",
        take_profit_limit=D("140.00"), stop_loss_stop=D("120.00")))
    plain = broker.submit_order(resting("lo-1"))
    broker.submit_order(market("lo-filled"))
    broker.cancel_order(broker.submit_order(resting("lo-cx")).id)
    ctl.reset_counters()
    listed = broker.list_open_orders()
    assert ctl.counters() == {ORDERS: 1}
    assert [o.client_order_id for o in listed] == ["lo-br-1", "lo-br-2", "lo-1"]
    assert all(isinstance(o, BrokerOrder) for o in listed)
    by_cid = {o.client_order_id: o for o in listed}
    assert {leg.status for leg in by_cid["lo-br-1"].legs} == {"held"}
    assert by_cid["lo-br-1"].id == waiting.id and by_cid["lo-1"].id == plain.id
    # the entry is filled, its exits work: listed with the parent, legs nested
    entry = by_cid["lo-br-2"]
    assert entry.id == filled_entry.id and entry.status == "filled"
    tp, sl = entry.leg("limit"), entry.leg("stop")
    assert tp is not None and tp.status == "new" and tp.limit_price == D("140")
    assert sl is not None and sl.status == "held" and sl.stop_price == D("120")


def _submit_resting(broker, ctl, count: int, start: int = 0, tie_at: int = 499) -> None:
    """`count` resting orders 1 ms apart, except that order `tie_at` and the next share a
    submission time: page one (500) ends on that tie."""
    for i in range(start, start + count):
        broker.submit_order(resting(f"bulk-{i}"))
        if i != tie_at:
            ctl.advance(0.001)


def test_list_open_orders_pages_by_submission_time(broker, ctl):
    _submit_resting(broker, ctl, 998)
    ctl.reset_counters()
    listed = broker.list_open_orders()
    assert len(listed) == 998 and len({o.id for o in listed}) == 998
    assert ctl.counters() == {ORDERS: 2}  # 500, then 499 (one the overlap): short, the end
    _submit_resting(broker, ctl, 2, start=998)
    ctl.reset_counters()
    listed = broker.list_open_orders()
    assert [o.client_order_id for o in listed] == [f"bulk-{i}" for i in range(1000)]
    # 1,000 open orders: 500 + 500 (498 new) + 3. Two full pages can never prove that
    # nothing follows, so 1,000 always costs at least three requests.
    assert ctl.counters() == {ORDERS: 3}


def test_list_open_orders_refuses_to_truncate_at_a_timestamp_it_cannot_page_past(broker, ctl):
    for i in range(501):  # one stepped instant: all share a submission time
        broker.submit_order(resting(f"same-{i}"))
    ctl.reset_counters()
    with pytest.raises(TemporaryError) as err:
        broker.list_open_orders()
    assert "share the submission time" in str(err.value)
    assert ctl.counters() == {ORDERS: 2}


# -- protective orders on a held position ----------------------------------------------------


def test_plain_stop_protects_the_position_and_holds_its_shares(broker, ctl):
    broker.submit_order(market("ps-entry"))
    ctl.reset_counters()
    stop = broker.submit_order(stop_exit("ps-stop"))
    assert ctl.counters() == {"POST /v2/orders": 1}
    assert (stop.order_type, stop.order_class, stop.time_in_force) == ("stop", "simple", "gtc")
    assert stop.side == "sell" and stop.qty == D(10) and stop.stop_price == D("170")
    assert stop.status in ("new", "accepted") and stop.limit_price is None
    with pytest.raises(RejectedError) as err:
        broker.submit_order(market("ps-second", side="sell"))
    assert "insufficient qty available" in str(err.value) and err.value.code == 40310000
    ctl.set_price("AAPL", "168.50")  # gaps through the stop: fills at the traded price
    done = broker.get_order(stop.id)
    assert done.status == "filled" and done.filled_avg_price == D("168.5")
    assert broker.get_positions() == []


def test_day_stop(broker):
    broker.submit_order(market("ds-entry"))
    stop = broker.submit_order(stop_exit("ds-stop", tif="day"))
    assert stop.time_in_force == "day" and stop.order_type == "stop"


def test_oco_exit_has_its_stop_nested_and_one_side_cancels_the_other(broker, ctl):
    broker.submit_order(market("oco-entry"))
    ctl.reset_counters()
    oco = broker.submit_order(oco_exit("oco-1"))
    assert ctl.counters() == {"POST /v2/orders": 1}
    assert (oco.order_class, oco.order_type, oco.side) == ("oco", "limit", "sell")
    assert oco.limit_price == D("190")  # the take profit is the parent
    fetched = broker.get_order(oco.id)
    assert fetched is not None and len(fetched.legs) == 1
    (leg,) = fetched.legs
    assert leg.order_type == "stop" and leg.stop_price == D("170") and leg.qty == D(10)
    assert leg.status in ("new", "held")  # whether Alpaca holds an OCO stop is unconfirmed
    assert fetched.status in ("new", "accepted")
    with pytest.raises(RejectedError) as err:
        broker.submit_order(market("oco-second", side="sell", qty=1))
    assert "insufficient qty available" in str(err.value)
    ctl.set_price("AAPL", "190.00")
    done = broker.get_order(oco.id)
    assert done.status == "filled" and done.filled_avg_price == D("190")
    assert done.legs[0].status == "canceled"
    assert broker.get_positions() == []


def test_oco_stop_side_fills(broker, ctl):
    broker.submit_order(market("ocs-entry"))
    oco = broker.submit_order(oco_exit("ocs-1"))
    ctl.set_price("AAPL", "169.00")
    done = broker.get_order(oco.id)
    assert done.status == "canceled"
    assert done.legs[0].status == "filled" and done.legs[0].filled_avg_price == D("169")
    assert broker.get_positions() == []


def test_oco_with_a_matching_limit_price_is_the_same_order(broker):
    broker.submit_order(market("ocl-entry"))
    oco = broker.submit_order(oco_exit("ocl-1", limit_price=D("190.00")))
    assert oco.limit_price == D("190") and oco.order_class == "oco"


def test_oco_without_a_position_is_refused(broker):
    with pytest.raises(RejectedError) as err:
        broker.submit_order(oco_exit("ocn-1"))
    assert "insufficient qty available" in str(err.value)


@pytest.mark.parametrize("request_", [
    oco_exit("bad-1", limit_price=D("191.00")),
    OrderRequest("bad-2", "AAPL", "sell", D(10), "limit", "gtc", order_class="oco",
                 take_profit_limit=D("190.00")),
    OrderRequest("bad-3", "AAPL", "sell", D(10), "stop", "gtc", order_class="oco",
                 stop_price=D("170"), take_profit_limit=D("190"), stop_loss_stop=D("170")),
    OrderRequest("bad-4", "AAPL", "sell", D(10), "stop", "gtc"),
])
def test_malformed_protective_orders_are_refused_before_sending(broker, ctl, request_):
    broker.submit_order(market("bad-entry"))
    ctl.reset_counters()
    with pytest.raises(RejectedError) as err:
        broker.submit_order(request_)
    assert request_.client_order_id in str(err.value)
    assert ctl.counters() == {}


def test_market_exit_closes_the_position(broker, ctl):
    broker.submit_order(market("mx-entry"))
    ctl.set_price("AAPL", "185.00")
    exit_ = broker.submit_order(market("mx-exit", side="sell"))
    assert (exit_.order_type, exit_.time_in_force, exit_.side) == ("market", "day", "sell")
    assert broker.get_order(exit_.id).filled_avg_price == D("185")
    assert broker.get_positions() == []
    last = broker.fill_activities_after(None)[-1]
    assert (last.order_id, last.side, last.price) == (exit_.id, "sell", D("185"))
