"""The drift switch: unknown fields everywhere, only NEEDED fields kept, decoys listed."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.paper_exchange.raw import get, patch, post
from tests.paper_exchange.test_today_bodies import http
from trading_monitor.broker.needed import NEEDED
from trading_monitor.paper_exchange import PaperExchange
from trading_monitor.paper_exchange import drift_decoys as decoys

UNKNOWN = {"x_drift_field", "x_drift_object"}
DOC = Path(__file__).resolve().parents[2] / "docs" / "paper-exchange.md"


def drifted(body: dict[str, Any], kind: str, extra: frozenset[str] = frozenset()) -> None:
    """Every NEEDED key the body had is kept, nothing else but the unknown fields."""
    assert UNKNOWN <= set(body)
    assert body["x_drift_object"]["x_drift_list"] == [1, "two", None]
    assert set(body) - UNKNOWN <= NEEDED[kind] | extra, set(body) - UNKNOWN - NEEDED[kind]


def order_drifted(order: dict[str, Any]) -> None:
    drifted(order, "order", frozenset({"legs"}))
    assert NEEDED["order"] <= set(order)  # our orders have every needed key, nulls included
    for leg in order.get("legs") or []:
        order_drifted(leg)


@pytest.fixture
def drifting(ctl):
    assert ctl.set_drift(True) == {"on": True, "omit": {}}
    return ctl


def test_account_clock_calendar_assets_keep_only_needed_fields(exchange, drifting):
    account = http(exchange, "GET", "/v2/account")
    drifted(account, "account")
    assert set(account) - UNKNOWN == NEEDED["account"]
    drifted(http(exchange, "GET", "/v2/clock"), "clock")
    for day in http(exchange, "GET", "/v2/calendar?start=2026-11-20&end=2026-11-24"):
        drifted(day, "calendar")
    asset = http(exchange, "GET", "/v2/assets/AAPL")
    drifted(asset, "asset")
    assert "borrow_status" not in asset  # optional-read, not needed: drift drops it
    for asset in http(exchange, "GET", "/v2/assets"):
        drifted(asset, "asset")


def test_post_patch_get_and_list_bodies_are_drifted_with_a_decoy(drifting, raw_client):
    drifting.set_price("AAPL", Decimal("100"))
    entry = post(raw_client, "AAPL", 2, type="limit", limit_price="90", tif="gtc",
                 order_class="bracket", take_profit={"limit_price": "110"},
                 stop_loss={"stop_price": "85"})
    order_drifted(entry)
    assert len(entry["legs"]) == 2  # legs stay: the bracket's stop is only seen there
    order_drifted(patch(raw_client, entry["id"], limit_price="91"))
    order_drifted(get(raw_client, entry["id"], nested=True))
    listed: list[dict[str, Any]] = raw_client.get("/orders", {"status": "all"})  # type: ignore[assignment]
    decoy = listed[0]  # the newest, leading the default descending list
    assert decoy["status"] == decoys.ORDER_STATUS and decoy["order_class"] == decoys.ORDER_CLASS
    for order in listed:
        order_drifted(order)
    ours = [o for o in listed if o["id"] != decoys.ORDER_ID]
    assert len(ours) == 4 and {o["status"] for o in ours} <= {"new", "held", "replaced"}
    ascending: list[dict[str, Any]] = raw_client.get(  # type: ignore[assignment]
        "/orders", {"status": "all", "direction": "asc"})
    assert ascending[-1]["id"] == decoys.ORDER_ID


def test_decoy_order_never_enters_the_book_or_a_full_page(exchange, drifting, raw_client):
    post(raw_client, "MSFT", 1, type="limit", limit_price="1")
    post(raw_client, "MSFT", 1, type="limit", limit_price="2")
    full: list[dict[str, Any]] = raw_client.get("/orders", {"limit": 2})  # type: ignore[assignment]
    assert decoys.ORDER_ID not in {o["id"] for o in full}
    other: list[dict[str, Any]] = raw_client.get("/orders", {"symbols": "MSFT"})  # type: ignore[assignment]
    assert decoys.ORDER_ID not in {o["id"] for o in other}
    assert decoys.ORDER_ID not in {o["id"] for o in drifting.orders()}
    with pytest.raises(Exception, match="404"):
        http(exchange, "GET", f"/v2/orders/{decoys.ORDER_ID}")


def test_positions_and_activities_get_decoys_of_unknown_kinds(exchange, drifting, raw_client):
    drifting.set_price("AAPL", Decimal("100"))
    post(raw_client, "AAPL", 3, type="market", tif="day")
    drifting.advance(1)
    positions = http(exchange, "GET", "/v2/positions")
    for position in positions:
        drifted(position, "position")
    decoy = next(p for p in positions if p["asset_class"] == decoys.ASSET_CLASS)
    assert decoy["symbol"] == decoys.POSITION_SYMBOL
    assert [p["symbol"] for p in drifting.state()["positions"]] == ["AAPL"]
    drifted(http(exchange, "GET", "/v2/positions/AAPL"), "position")
    with pytest.raises(Exception, match="404"):
        http(exchange, "GET", f"/v2/positions/{decoys.POSITION_SYMBOL}")
    activities = http(exchange, "GET", "/v2/account/activities")
    assert activities[0]["activity_type"] == decoys.ACTIVITY_TYPE
    drifted(activities[0], "activity")
    fills = http(exchange, "GET", "/v2/account/activities/FILL")
    assert [a["activity_type"] for a in fills] == ["FILL"]
    drifted(fills[0], "fill_activity")
    assert set(fills[0]) - UNKNOWN == NEEDED["fill_activity"]


def test_close_and_cancel_answers_are_drifted(exchange, drifting, raw_client):
    drifting.set_price("AAPL", Decimal("100"))
    post(raw_client, "AAPL", 3, type="market", tif="day")
    drifting.advance(1)
    order_drifted(http(exchange, "DELETE", "/v2/positions/AAPL?qty=1"))
    post(raw_client, "MSFT", 1, type="limit", limit_price="1")
    for entry in http(exchange, "DELETE", "/v2/orders"):
        assert UNKNOWN <= set(entry)
        order_drifted(entry["body"])


def test_market_data_keeps_only_needed_kinds_and_symbol_maps(exchange, drifting):
    trades = http(exchange, "GET", "/v2/stocks/trades/latest?symbols=AAPL,MSFT")
    assert UNKNOWN <= set(trades) and set(trades["trades"]) == {"AAPL", "MSFT"}
    drifted(trades["trades"]["AAPL"], "latest_trade")
    quote = http(exchange, "GET", "/v2/stocks/quotes/latest?symbols=AAPL")["quotes"]["AAPL"]
    drifted(quote, "quote")
    snap = http(exchange, "GET", "/v2/stocks/snapshots?symbols=AAPL")
    assert set(snap) == {"AAPL"}
    assert UNKNOWN <= set(snap["AAPL"])
    drifted(snap["AAPL"]["dailyBar"], "bar")
    drifted(snap["AAPL"]["latestTrade"], "latest_trade")


def test_corporate_actions_wrapper_drifts_but_its_group_map_does_not(exchange, drifting):
    page = http(exchange, "GET", "/v1/corporate-actions?symbols=AAPL")
    assert UNKNOWN <= set(page) and page["corporate_actions"] == {}


def test_stream_frames_are_drifted(exchange, drifting, raw_client):
    frames: list[dict[str, Any]] = []

    async def listen() -> None:
        async with websockets.connect(exchange.stream_url) as ws:
            await ws.send(json.dumps({"action": "auth", "data": {"key_id": "k",
                                                                 "secret_key": "s"}}))
            await ws.recv()
            await ws.send(json.dumps({"action": "listen",
                                      "data": {"streams": ["trade_updates"]}}))
            await ws.recv()
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, lambda: post(raw_client, "AAPL", 1,
                                                          type="market", tif="day"))
            for _ in range(2):
                frames.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))

    asyncio.run(listen())
    for frame in frames:
        assert frame["stream"] == "trade_updates" and UNKNOWN <= set(frame)
        drifted(frame["data"], "trade_update")
        order_drifted(frame["data"]["order"])
    assert [f["data"]["event"] for f in frames] == ["new", "fill"]


def test_switching_off_or_reset_restores_todays_bodies(exchange, drifting):
    drifting.set_drift(False)
    account = http(exchange, "GET", "/v2/account")
    assert not UNKNOWN & set(account) and "cash" in account and "currency" in account
    assert http(exchange, "GET", "/v2/positions") == []
    assert http(exchange, "GET", "/control/drift") == {"on": False, "omit": {}}
    drifting.set_drift(True, omit={"asset": ["class"]})
    drifting.reset()
    assert http(exchange, "GET", "/control/drift") == {"on": False, "omit": {}}
    assert "currency" in http(exchange, "GET", "/v2/account")


def test_omit_drops_needed_fields_too(exchange, ctl):
    answer = ctl.set_drift(True, omit={"asset": ["class", "tradable"], "order": ["legs"]})
    assert answer["omit"] == {"asset": ["class", "tradable"], "order": ["legs"]}
    asset = http(exchange, "GET", "/v2/assets/AAPL")
    assert set(asset) - UNKNOWN == NEEDED["asset"] - {"class", "tradable"}
    assert "legs" not in http(exchange, "GET", "/v2/orders?nested=true")[0]  # the decoy


@pytest.mark.parametrize("body", [{"on": "yes"}, {"on": True, "omit": ["class"]},
                                  {"on": True, "omit": {"asset": "class"}}])
def test_drift_switch_refuses_nonsense(exchange, body):
    with pytest.raises(Exception, match="422"):
        http(exchange, "POST", "/control/drift", body)


def test_docs_table_matches_needed():
    text = DOC.read_text()
    section = text.split("## Today's Alpaca bodies and the drift switch", 1)[1]
    section = section.split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| (.+) \|$", section, flags=re.MULTILINE)
    table = {kind: frozenset(re.findall(r"`(\w+)`", fields)) for kind, fields in rows}
    assert table == dict(NEEDED)


def test_fills_on_the_exchanges_own_clock_tick_are_drifted_too():
    """In accelerated mode the open's fill is sent by the ticker, outside any request."""
    before_open = datetime(2026, 11, 20, 14, 29, 58, tzinfo=timezone.utc)
    frames: list[dict[str, Any]] = []
    with PaperExchange(seed=3, start=before_open, clock_mode="accelerated", speed=10,
                       random_walk=False).start() as ex:
        ex.control.set_drift(True)

        async def listen() -> None:
            async with websockets.connect(ex.stream_url) as ws:
                await ws.send(json.dumps({"action": "auth", "data": {"key_id": "k",
                                                                     "secret_key": "s"}}))
                await ws.recv()
                await ws.send(json.dumps({"action": "listen",
                                          "data": {"streams": ["trade_updates"]}}))
                await ws.recv()
                order = {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market",
                         "time_in_force": "day"}
                await asyncio.get_running_loop().run_in_executor(
                    None, lambda: http(ex, "POST", "/v2/orders", order))
                for _ in range(2):
                    frames.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))

        asyncio.run(listen())
    assert [f["data"]["event"] for f in frames] == ["new", "fill"]
    for frame in frames:
        drifted(frame["data"], "trade_update")
        order_drifted(frame["data"]["order"])


def test_the_exchange_knows_the_same_needed_fields_as_the_client():
    """The exchange keeps its own copy (it imports nothing of the product): the same table."""
    from trading_monitor.paper_exchange.needed import NEEDED as EXCHANGE_NEEDED

    assert dict(EXCHANGE_NEEDED) == dict(NEEDED)
