"""`trade_state.decide` as a specification: one trade's orders and fills in, the actions that
bring the books and the broker in line out, in the order they must happen. One row per rule.

Prices: a long of 10 shares planned at 181.00 with a stop at 174.00 and a target at 195.00.
"""

from __future__ import annotations

from datetime import timedelta
from unittest.mock import ANY

import pytest

from tests.support.builders import (
    ENTRY_ID,
    NOW,
    T0,
    D,
    entry_fill,
    entry_order,
    exit_fill,
    market_exit,
    position,
    stop,
    target,
    trade,
)
from trading_monitor.domain.lifecycle import ExitReason, Purpose, TradeStatus
from trading_monitor.domain.trade_state import (
    CancelOrders,
    ClosePosition,
    EndEntry,
    MarkProtected,
    OpenPosition,
    PlaceProtection,
    ProtectionRules,
    ResizePosition,
    WithdrawEntryRest,
    decide,
)

RULES = ProtectionRules(partial_entry_timeout=timedelta(minutes=2))
PENDING = TradeStatus.PENDING
STOP_10 = PlaceProtection(D(10), D("174.00"), None, "gtc")
OCO_10 = PlaceProtection(D(10), D("174.00"), D("195.00"), "gtc")

ENTRY = [
    pytest.param(trade(PENDING, entry=entry_order("new", filled=0)), [],
                 id="an entry working with nothing filled asks for nothing"),
    pytest.param(trade(PENDING, entry=entry_order("pending_cancel", filled=0)), [],
                 id="an entry whose cancel is pending may still fill: wait for the final word"),
    pytest.param(trade(PENDING, entry=entry_order("filled"), fills=[entry_fill()]),
                 [OpenPosition(D(10), D("181.00"), T0, D("0.00")), STOP_10],
                 id="a filled entry opens the position and asks for its stop at once"),
    pytest.param(trade(PENDING, entry=entry_order("filled"), fills=[entry_fill(price="181.50")],
                       planned_entry="181.00"),
                 [OpenPosition(D(10), D("181.50"), T0, D("27.62")), STOP_10],
                 id="paying 181.50 for a 181.00 plan is 27.62 bps of slippage"),
    pytest.param(trade(PENDING, style="SWING", entry=entry_order("filled"),
                       fills=[entry_fill()]),
                 [OpenPosition(D(10), D("181.00"), T0, D("0.00")), OCO_10],
                 id="a swing trade is protected by an OCO: its stop and its target"),
    pytest.param(trade(PENDING, entry=entry_order("canceled", 10, 4), fills=[entry_fill(4)]),
                 [OpenPosition(D(4), D("181.00"), T0, D("0.00")),
                  PlaceProtection(D(4), D("174.00"), None, "gtc")],
                 id="an entry cancelled after 4 of 10 filled opens a position of 4 and "
                    "protects those 4"),
    pytest.param(trade(PENDING, side="sell", planned_entry="100.00", planned_stop="105.00",
                       entry=entry_order("filled", limit="100.00"),
                       fills=[entry_fill(price="100.00")]),
                 [OpenPosition(D(10), D("100.00"), T0, D("0.00")),
                  PlaceProtection(D(10), D("105.00"), None, "gtc")],
                 id="a filled short entry opens the position and asks for its buy stop above"),
    pytest.param(trade(PENDING, entry=entry_order("canceled", filled=0)),
                 [EndEntry(TradeStatus.CANCELLED, ANY)],
                 id="an entry cancelled with nothing filled ends the trade CANCELLED"),
    pytest.param(trade(PENDING, entry=entry_order("expired", filled=0)),
                 [EndEntry(TradeStatus.EXPIRED, ANY)],
                 id="an entry that expired unfilled ends the trade EXPIRED"),
    pytest.param(trade(PENDING, entry=entry_order("rejected", filled=0)),
                 [EndEntry(TradeStatus.REJECTED, ANY)],
                 id="an entry the broker rejected ends the trade REJECTED"),
    pytest.param(trade(PENDING, entry=entry_order("not_sent", filled=0)),
                 [EndEntry(TradeStatus.REJECTED, ANY)],
                 id="an entry we withdrew before it was sent ends the trade REJECTED"),
    pytest.param(trade(PENDING, entry=entry_order("canceled", filled=0,
                                                  expires_at=NOW - timedelta(hours=1))),
                 [EndEntry(TradeStatus.EXPIRED, ANY)],
                 id="our own cancel of a day entry after its session counts as EXPIRED"),
    pytest.param(trade(PENDING, mode="bracket",
                       entry=entry_order("canceled", filled=0, order_class="bracket"),
                       exits=[stop(status="held", parent=ENTRY_ID),
                              target(status="held", parent=ENTRY_ID)]),
                 [EndEntry(TradeStatus.CANCELLED, ANY),
                  CancelOrders((stop(status="held", parent=ENTRY_ID),
                                target(status="held", parent=ENTRY_ID)), ANY)],
                 id="a bracket entry cancelled unfilled takes its held legs with it"),
]

PROTECTION = [
    pytest.param(position(exits=[stop()]), [MarkProtected()],
                 id="a live stop for every share marks the position protected"),
    pytest.param(position(exits=[stop()], protected=True), [],
                 id="a protected position with its stop in place asks for nothing"),
    pytest.param(position(), [STOP_10],
                 id="a position without a stop gets one at the planned stop"),
    pytest.param(position(exits=[stop(status="canceled")]), [STOP_10],
                 id="a stop cancelled at the broker is gone: the position gets a new one"),
    pytest.param(position(exits=[stop(status="expired")]), [STOP_10],
                 id="a stop that expired is gone: the position gets a new one"),
    pytest.param(position(exits=[stop(status="held")], protected=True), [],
                 id="a held stop still counts as the position's protection"),
    pytest.param(position(planned_stop=None), [],
                 id="with no planned stop there is no stop to place"),
    pytest.param(position(exits=[stop(4)]), [PlaceProtection(D(6), D("174.00"), None, "gtc")],
                 id="a stop for 4 of 10 shares stays, and a stop for the other 6 is added"),
    pytest.param(position(exits=[stop(status="pending_cancel")]),
                 [CancelOrders((stop(status="pending_cancel"),), ANY), STOP_10],
                 id="a stop whose cancel is pending is not protection: cancelled to the "
                    "final word, then replaced"),
    pytest.param(position(exits=[stop(status="suspended")]),
                 [CancelOrders((stop(status="suspended"),), ANY), STOP_10],
                 id="a suspended stop is not protection"),
    pytest.param(position(exits=[stop(status="pending_submit")]), [],
                 id="an order of ours in flight is settled before any other is sent"),
    pytest.param(position(exits=[market_exit()]), [],
                 id="a market exit working for the whole position is not replaced by a stop"),
    pytest.param(position(booked=(4, "181.00")),
                 [ResizePosition(D(10), D("181.00")), STOP_10],
                 id="a position that grew is booked at its new size, then protected"),
]

_LEGS = (stop(status="held", parent=ENTRY_ID), target(status="held", parent=ENTRY_ID))
BRACKET = [
    pytest.param(trade(mode="bracket", style="SWING",
                       entry=entry_order("partially_filled", 10, 4, order_class="bracket"),
                       exits=_LEGS, fills=[entry_fill(4, at=NOW - timedelta(minutes=1))],
                       first_fill_at=NOW - timedelta(minutes=1)), [],
                 id="a bracket entry partly filled a minute ago: its held legs will protect "
                    "once it fills, wait"),
    pytest.param(trade(mode="bracket", style="SWING",
                       entry=entry_order("partially_filled", 10, 4, order_class="bracket"),
                       exits=_LEGS, fills=[entry_fill(4, at=NOW - timedelta(minutes=3))],
                       first_fill_at=NOW - timedelta(minutes=3)),
                 [WithdrawEntryRest(ANY)],
                 id="a bracket entry still partly filled after two minutes: its rest is "
                    "withdrawn so the legs protect the 4 shares"),
    pytest.param(trade(entry=entry_order("partially_filled", 10, 4),
                       fills=[entry_fill(4)]),
                 [WithdrawEntryRest(ANY)],
                 id="a plain stop against our own working buy would be a wash trade: "
                    "the entry's rest goes first"),
    pytest.param(trade(style="SWING", entry=entry_order("partially_filled", 10, 4),
                       fills=[entry_fill(4)]),
                 [PlaceProtection(D(4), D("174.00"), D("195.00"), "gtc")],
                 id="an OCO is exempt from the wash-trade rule: the 4 shares are protected "
                    "while the entry works"),
]

_STOP, _TAKE = stop(), target()
_FLATTEN = market_exit(status="filled", purpose=Purpose.EOD_FLATTEN)
CLOSING = [
    pytest.param(position(exits=[stop(filled=10, status="filled")],
                          fills=[entry_fill(), exit_fill(_STOP, price="174.00")]),
                 [ClosePosition(D("174.00"), NOW - timedelta(minutes=1), D("-70.00"), D(0),
                                ExitReason.STOPPED_OUT, D("174.00"), D("0.00"))],
                 id="a long stopped out at 174.00 after buying at 181.00 loses 70.00"),
    pytest.param(position(exits=[stop(filled=10, status="filled")],
                          fills=[entry_fill(), exit_fill(_STOP, price="173.50")]),
                 [ClosePosition(D("173.50"), ANY, D("-75.00"), D(0), ExitReason.STOPPED_OUT,
                                D("174.00"), D("28.74"))],
                 id="a stop at 174.00 filled at 173.50 slipped 28.74 bps"),
    pytest.param(position(exits=[_STOP, target(status="filled")],
                          fills=[entry_fill(), exit_fill(_TAKE, price="195.00")]),
                 [ClosePosition(D("195.00"), ANY, D("140.00"), D(0), ExitReason.TARGET_HIT,
                                D("195.00"), D("0.00")),
                  CancelOrders((_STOP,), ANY)],
                 id="the target filling wins 140.00 and cancels the stop left behind"),
    pytest.param(position(exits=[stop(filled=10, status="filled")],
                          fills=[entry_fill(fee="0"),
                                 exit_fill(_STOP, price="174.00", fee="1.25")]),
                 [ClosePosition(D("174.00"), ANY, D("-71.25"), D("1.25"),
                                ExitReason.STOPPED_OUT, D("174.00"), D("0.00"))],
                 id="fees come off the closing P&L"),
    pytest.param(position(side="sell", price="100.00", planned_stop="105.00",
                          exits=[stop(price="105.00", filled=10, status="filled")],
                          fills=[entry_fill(price="100.00"),
                                 exit_fill(stop(price="105.00"), price="105.00")]),
                 [ClosePosition(D("105.00"), ANY, D("-50.00"), D(0), ExitReason.STOPPED_OUT,
                                D("105.00"), D("0.00"))],
                 id="a short sold at 100.00 and stopped out at 105.00 loses 50.00"),
    pytest.param(position(side="sell", price="100.00", planned_stop="105.00",
                          exits=[_FLATTEN],
                          fills=[entry_fill(price="100.00"),
                                 exit_fill(_FLATTEN, price="96.00")]),
                 [ClosePosition(D("96.00"), ANY, D("40.00"), D(0), ExitReason.EOD_FLATTEN,
                                None, None)],
                 id="a short covered by the end-of-day flatten at 96.00 wins 40.00"),
    pytest.param(position(exits=[stop(filled=6, status="partially_filled")],
                          fills=[entry_fill(), exit_fill(_STOP, qty=6)], protected=True), [],
                 id="a stop filled for 6 of 10 shares still covers the other 4: nothing to do"),
    pytest.param(trade(fills=[], entry=None), [],
                 id="a position gone without a fill of ours is left to reconciliation"),
    pytest.param(trade(TradeStatus.CLOSED, exits=[_STOP]),
                 [CancelOrders((_STOP,), ANY)],
                 id="a closed trade's orders still at the broker are cancelled"),
    pytest.param(trade(TradeStatus.CLOSED, exits=[stop(status="canceled")]), [],
                 id="a closed trade with nothing left at the broker asks for nothing"),
    pytest.param(trade(TradeStatus.CANCELLED, entry=entry_order("canceled", filled=0)), [],
                 id="a cancelled trade is over: nothing to do"),
]


@pytest.mark.parametrize("state, expected", ENTRY + PROTECTION + BRACKET + CLOSING)
def test_decide(state, expected):
    assert decide(state, NOW, RULES) == expected
