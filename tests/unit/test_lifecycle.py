"""The lifecycle vocabulary (`domain/lifecycle.py`) as a specification: which moves a trade
may make, what the broker's word on an entry means for its trade, and the client order ids
that let a retry find the same order at the broker."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from trading_monitor.domain.lifecycle import (
    IllegalTransition,
    OrderRole,
    TradeStatus,
    check_trade_transition,
    client_order_id,
    owned_client_order_id,
    trade_status_for_entry,
    withdrawn_trade_status,
)

D = Decimal
NOW = datetime(2026, 11, 23, 21, 10, tzinfo=timezone.utc)


@pytest.mark.parametrize("current, target", [
    pytest.param("PENDING", "POSITION", id="an entry that fills makes a position"),
    pytest.param("POSITION", "CLOSED", id="a position closes"),
    pytest.param("PENDING", "CANCELLED", id="an entry withdrawn unfilled is cancelled"),
    pytest.param("PENDING", "EXPIRED", id="an entry whose session ended unfilled expired"),
    pytest.param("PENDING", "REJECTED", id="an entry the broker refused is rejected"),
    pytest.param("CANCELLED", "POSITION",
                 id="a fill that raced our cancel still makes a position: the shares are a fact"),
    pytest.param("EXPIRED", "POSITION", id="a fill that raced the session's end too"),
    pytest.param("PENDING", "PENDING", id="a note on a pending trade leaves it pending"),
])
def test_a_trade_may_move(current, target):
    check_trade_transition(current, target)


@pytest.mark.parametrize("current, target", [
    pytest.param("CLOSED", "PENDING", id="a closed trade never reopens"),
    pytest.param("CLOSED", "POSITION", id="a closed trade never becomes a position again"),
    pytest.param("REJECTED", "POSITION", id="a rejected entry never filled"),
    pytest.param("POSITION", "CANCELLED", id="a position is closed, never cancelled"),
    pytest.param("POSITION", "PENDING", id="a position never goes back to pending"),
])
def test_a_trade_may_not_move(current, target):
    with pytest.raises(IllegalTransition, match=f"from {current} to {target}"):
        check_trade_transition(current, target)


@pytest.mark.parametrize("status, filled, trade", [
    pytest.param("canceled", "3", TradeStatus.POSITION,
                 id="any filled share makes a position, whatever happened to the order"),
    pytest.param("canceled", "0", TradeStatus.CANCELLED, id="cancelled unfilled"),
    pytest.param("expired", "0", TradeStatus.EXPIRED, id="expired unfilled"),
    pytest.param("rejected", "0", TradeStatus.REJECTED, id="rejected"),
    pytest.param("pending_cancel", "0", None,
                 id="a cancel still pending changes nothing: it may yet fill"),
    pytest.param("new", "0", None, id="a working entry changes nothing"),
    pytest.param("new", None, None, id="an entry with no fill reported changes nothing"),
])
def test_the_brokers_word_on_an_entry(status, filled, trade):
    assert trade_status_for_entry(status, D(filled) if filled else None) is trade


@pytest.mark.parametrize("cancelled, expires_at, now, result", [
    pytest.param(TradeStatus.CANCELLED, NOW - timedelta(minutes=5), NOW, TradeStatus.EXPIRED,
                 id="our cancel of a day entry after its session counts as expired"),
    pytest.param(TradeStatus.CANCELLED, NOW + timedelta(hours=1), NOW, TradeStatus.CANCELLED,
                 id="a cancel inside the session stays a cancel"),
    pytest.param(TradeStatus.CANCELLED, None, NOW, TradeStatus.CANCELLED,
                 id="an entry with no session end stays a cancel"),
    pytest.param(TradeStatus.REJECTED, NOW - timedelta(minutes=5), NOW, TradeStatus.REJECTED,
                 id="a rejection is never turned into an expiry"),
])
def test_a_withdrawn_entry(cancelled, expires_at, now, result):
    assert withdrawn_trade_status(cancelled, expires_at, now) is result


@pytest.mark.parametrize("made, expected", [
    pytest.param(client_order_id("a1", 42, OrderRole.ENTRY), "tm-a1-d42-entry",
                 id="an entry's id is derived from the installation and the decision"),
    pytest.param(client_order_id("a1", 42, OrderRole.STOP_LOSS), "tm-a1-d42-stop_loss",
                 id="its stop's id from the same decision"),
    pytest.param(client_order_id("a1", 42, OrderRole.STOP_LOSS, 2), "tm-a1-d42-stop_loss-2",
                 id="a re-placed stop takes the next attempt: Alpaca never takes an id twice"),
    pytest.param(owned_client_order_id("a1", "t7", OrderRole.EXIT), "tm-a1-t7-exit",
                 id="a trade no decision opened is named by its trade"),
])
def test_client_order_ids(made, expected):
    assert made == expected
