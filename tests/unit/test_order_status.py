"""The order-status vocabulary (`domain/order_status.py`) as a trader reads it: for each
status, may the order still fill, does a stop in it protect the shares, do we wait for the
broker to move it on, and is it the broker's final word that the order is gone.

The named queries ask the same questions through SQL parameters (`SQL_PARAMS`), pinned here;
tests/integration/test_order_status.py pins the lists the views spell out, on real rows.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from trading_monitor.domain.lifecycle import OrderRole, Purpose, TradeStatus
from trading_monitor.domain.order_status import SQL_PARAMS, OrderStatus
from trading_monitor.domain.reconcile import (
    HeldPosition,
    IssueKind,
    OpenOrder,
    OurTrade,
    reconcile,
)
from trading_monitor.domain.trade_state import (
    Fill,
    OrderView,
    PlaceProtection,
    ProtectionRules,
    TradeState,
    decide,
)

UNKNOWN = "halted_for_ever"

ROWS = [
    # status, may fill, protects, settling (wait), withdrawn (gone), at the broker
    pytest.param("new", True, True, False, False, True,
                 id="a new stop at the broker protects the shares"),
    pytest.param("accepted", True, True, True, False, True,
                 id="an accepted stop protects, and the broker moves it on by itself"),
    pytest.param("pending_new", True, True, True, False, True,
                 id="a stop the broker is still taking in already counts as protection"),
    pytest.param("held", True, True, False, False, True,
                 id="a held bracket leg protects once its entry filled"),
    pytest.param("partially_filled", True, True, False, False, True,
                 id="a partly filled stop still protects its unfilled shares"),
    pytest.param("pending_replace", True, True, True, False, True,
                 id="a stop being moved protects at its old price until the broker answers"),
    pytest.param("pending_cancel", True, False, True, False, True,
                 id="a stop whose cancel is pending can still fill but no longer protects"),
    pytest.param("stopped", True, False, False, False, True,
                 id="a stop that triggered is an exit in progress, not protection for later"),
    pytest.param("suspended", True, False, False, False, True,
                 id="a suspended stop is not eligible to trade: it protects nothing"),
    pytest.param("done_for_day", True, False, False, False, True,
                 id="an order done for the day will not trade today: no protection"),
    pytest.param("calculated", True, False, False, False, True,
                 id="a calculated order has stopped trading for the day: no protection"),
    pytest.param("accepted_for_bidding", True, False, False, False, True,
                 id="an order accepted for the auction may still fill"),
    pytest.param("pending_review", True, False, False, False, True,
                 id="an order under review may still fill"),
    pytest.param("pending_submit", True, False, False, False, False,
                 id="our intent, committed but not answered, may have gone out: never "
                    "booked as gone"),
    pytest.param("not_sent", False, False, False, False, False,
                 id="an intent withdrawn before it reached the broker will never fill"),
    pytest.param("filled", False, False, False, False, False,
                 id="a filled order is done"),
    pytest.param("replaced", False, False, False, False, False,
                 id="a replaced order lives on as its successor, not as itself"),
    pytest.param("canceled", False, False, False, True, False,
                 id="cancelled is the broker's final word: the shares are free"),
    pytest.param("expired", False, False, False, True, False,
                 id="expired is the broker's final word"),
    pytest.param("rejected", False, False, False, True, False,
                 id="rejected is the broker's final word"),
    pytest.param(UNKNOWN, True, False, False, False, True,
                 id="a status nobody knows may still fill and protects nothing"),
]


KNOWN = sorted(str(row.values[0]) for row in ROWS if row.values[0] != UNKNOWN)


@pytest.mark.parametrize("name, may_fill, protects, settling, withdrawn, at_broker", ROWS)
def test_a_status_means_one_thing(name, may_fill, protects, settling, withdrawn, at_broker):
    s = OrderStatus(name)
    assert (s.may_fill, s.protects, s.settling, s.withdrawn, s.at_broker) == \
        (may_fill, protects, settling, withdrawn, at_broker)
    assert s.final is not may_fill  # final is exactly "can never fill again"


def test_a_status_is_still_its_string():
    assert OrderStatus("new") == "new" and f"{OrderStatus('held')}" == "held"


@pytest.mark.parametrize("stop_status", ["suspended", "stopped", "done_for_day", "calculated",
                                         "new", "held", UNKNOWN])
def test_the_order_monitor_and_reconciliation_agree_on_a_stop(stop_status):
    """Where one counted a suspended stop as protection and the other did not, the position
    was reported unprotected every cycle and nothing ever replaced the stop."""
    now = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)
    ten = Decimal(10)
    stop = OrderView(2, "tm-x-d1-stop_loss", OrderRole.STOP_LOSS, Purpose.PROTECTION,
                     stop_status, ten, Decimal(0), "simple", "gtc", stop_price=Decimal(170),
                     alpaca_order_id="b2")
    state = TradeState(1, TradeStatus.POSITION, "buy", "SWING", "staged", Decimal(175),
                       Decimal(170), None, now, now, None, (stop,),
                       (Fill("b1", OrderRole.ENTRY, Purpose.ENTRY, ten, Decimal(175), now),),
                       booked=(ten, Decimal(175)))
    replaced = any(isinstance(a, PlaceProtection) for a in decide(state, now, ProtectionRules()))
    issues = reconcile([HeldPosition("AAPL", ten, Decimal(175))],
                       [OpenOrder("AAPL", "sell", "stop", ten, Decimal(0), stop_status,
                                  "tm-x-d1-stop_loss")],
                       [OurTrade(1, "AAPL", ten, "POSITION")], "x")
    unprotected = any(i.kind is IssueKind.UNPROTECTED for i in issues)
    assert replaced == unprotected == (not OrderStatus(stop_status).protects)


def test_the_sql_parameters_are_the_predicates():
    for name in [*KNOWN, UNKNOWN]:
        s = OrderStatus(name)
        assert (name not in SQL_PARAMS["final"]) == s.may_fill
        assert (name not in SQL_PARAMS["not_at_broker"]) == s.at_broker
        assert (name in SQL_PARAMS["protects"]) == s.protects


SQL_FILES = ["trading_monitor/db/queries.sql", "trading_monitor/report/queries.sql"]


@pytest.mark.parametrize("path", SQL_FILES)
def test_named_queries_take_the_vocabulary_as_parameters(path):
    text = (Path(__file__).parents[2] / path).read_text()
    assert not re.search(r"order_status\s+(NOT\s+)?IN\s*\(", text, re.I)
    used = set(re.findall(r"order_status\s*(?:=\s*ANY|<>\s*ALL)\(%\((\w+)\)s\)", text))
    assert used and used <= set(SQL_PARAMS)
