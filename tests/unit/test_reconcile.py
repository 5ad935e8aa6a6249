"""Reconciliation (`domain/reconcile.py`) as a specification: the broker's positions and open
orders against our open trades, and every disagreement it must report. One row per rule.

Our installation is `x`: our client order ids start `tm-x-`.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from trading_monitor.domain.reconcile import (
    HeldPosition,
    IssueKind,
    OpenOrder,
    OurTrade,
    reconcile,
    stop_cover,
)

D = Decimal
GONE, UNTRACKED, MISMATCH = IssueKind.GONE_AT_BROKER, IssueKind.UNTRACKED, IssueKind.QTY_MISMATCH
UNPROTECTED, SHARED = IssueKind.UNPROTECTED, IssueKind.SHARED_ACCOUNT


def held(qty: int, symbol: str = "AAPL") -> HeldPosition:
    return HeldPosition(symbol, D(qty), D("181.00"))


def order(side: str = "sell", qty: int = 10, *, kind: str = "stop", status: str = "new",
          filled: int = 0, coid: str = "tm-x-d1-stop_loss", parent_filled: bool = True,
          symbol: str = "AAPL") -> OpenOrder:
    return OpenOrder(symbol, side, kind, D(qty), D(filled), status, coid, parent_filled)


def ours(qty: int, *, journal_id: int = 1, status: str = "POSITION", working: bool = False,
         bracket_partial: bool = False, symbol: str = "AAPL") -> OurTrade:
    return OurTrade(journal_id, symbol, D(qty), status, working, bracket_partial)


ROWS = [
    pytest.param([held(10)], [order()], [ours(10)], [],
                 id="books and broker agree and a stop covers every share: nothing to report"),
    pytest.param([], [], [], [], id="an empty account and empty books agree"),
    pytest.param([], [], [ours(10)], [(GONE, "AAPL", 1)],
                 id="we track 10 shares the broker no longer holds: gone at the broker"),
    pytest.param([held(10)], [], [], [(UNTRACKED, "AAPL", None)],
                 id="the broker holds shares no trade of ours explains: untracked"),
    pytest.param([held(10)], [order()], [ours(0, status="PENDING", working=True)],
                 [(UNTRACKED, "AAPL", None)],
                 id="shares held while our entry works unfilled are not ours (the sync books "
                    "what it filled; the adoption grace covers a fill in between)"),
    pytest.param([held(10)], [order()], [ours(4, status="POSITION", working=True)],
                 [(MISMATCH, "AAPL", 1)],
                 id="an entry of ours that filled part: a quantity mismatch, not a stranger"),
    pytest.param([held(10)], [order()], [ours(6)], [(MISMATCH, "AAPL", 1)],
                 id="we book 6 shares and the broker holds 10: a quantity mismatch"),
    pytest.param([held(10)], [], [ours(10)], [(UNPROTECTED, "AAPL", 1)],
                 id="a long with no stop at the broker is unprotected"),
    pytest.param([held(10)], [order(qty=4)], [ours(10)], [(UNPROTECTED, "AAPL", 1)],
                 id="a stop for 4 of 10 shares leaves the position unprotected"),
    pytest.param([held(10)], [order(qty=10, filled=6, status="partially_filled")], [ours(10)],
                 [(UNPROTECTED, "AAPL", 1)],
                 id="a stop's filled shares no longer cover what is still held"),
    pytest.param([held(10)], [order(qty=4), order(qty=6, coid="tm-x-d1-stop_loss-2")],
                 [ours(10)], [],
                 id="two stops of 4 and 6 shares together cover 10"),
    pytest.param([held(-10)], [order("buy")], [ours(-10)], [],
                 id="a short is protected by a buy stop"),
    pytest.param([held(-10)], [], [ours(-10)], [(UNPROTECTED, "AAPL", 1)],
                 id="a short with no buy stop at the broker is unprotected"),
    pytest.param([held(-10)], [], [], [(UNTRACKED, "AAPL", None)],
                 id="a short the broker holds and no trade of ours explains: untracked"),
    pytest.param([], [], [ours(-10)], [(GONE, "AAPL", 1)],
                 id="a short we track that the broker no longer holds: gone at the broker"),
    pytest.param([held(10), held(5, "MSFT")], [order(), order(qty=5, symbol="MSFT")],
                 [ours(10), ours(5, journal_id=2, symbol="MSFT")], [],
                 id="two positions each covered by their own stop: nothing to report"),
    pytest.param([held(-10)], [order("sell")], [ours(-10)], [(UNPROTECTED, "AAPL", 1)],
                 id="a sell stop does not protect a short"),
    pytest.param([held(10)], [order(status="pending_cancel")], [ours(10)],
                 [(UNPROTECTED, "AAPL", 1)],
                 id="a stop whose cancel is pending does not protect"),
    pytest.param([held(10)], [order(status="suspended")], [ours(10)],
                 [(UNPROTECTED, "AAPL", 1)],
                 id="a suspended stop does not protect"),
    pytest.param([held(10)], [order(status="held")], [ours(10)], [],
                 id="a held stop of a filled bracket protects"),
    pytest.param([held(10)], [order(kind="limit", coid="tm-x-d1-take_profit")], [ours(10)],
                 [(UNPROTECTED, "AAPL", 1)],
                 id="a take-profit limit is not a stop"),
    pytest.param([held(10)], [order(kind="trailing_stop")], [ours(10)], [],
                 id="a trailing stop protects"),
    pytest.param([held(10)], [order(kind="stop_limit")], [ours(10)], [],
                 id="a stop-limit protects"),
    pytest.param([held(10)], [order(status="held", parent_filled=False)], [ours(10)],
                 [(UNPROTECTED, "AAPL", 1)],
                 id="a held leg of a bracket whose entry is incomplete does not protect"),
    pytest.param([held(4)], [order(status="held", parent_filled=False)],
                 [ours(4, status="PENDING", working=True, bracket_partial=True)], [],
                 id="a bracket entry partly filled is the order monitor's bounded window, "
                    "not an emergency"),
    pytest.param([held(10)], [order(symbol="MSFT")], [ours(10)], [(UNPROTECTED, "AAPL", 1)],
                 id="a stop on another symbol protects nothing here"),
    pytest.param([held(10)], [order(), order("buy", 5, kind="limit", coid="tm-y-d7-entry",
                                             symbol="MSFT")],
                 [ours(10)], [(SHARED, "*", None)],
                 id="another installation's orders in the account: a shared account"),
    pytest.param([held(10), held(5, "MSFT")],
                 [order(), order("buy", 5, kind="limit", coid="tm-y-d7-entry", symbol="MSFT")],
                 [ours(10)], [(SHARED, "*", None), (SHARED, "MSFT", None)],
                 id="in a shared account a position no trade of ours explains is the other "
                    "installation's, not untracked"),
    pytest.param([held(10)], [order(coid="hand-placed-stop")], [ours(10)], [],
                 id="an order placed by hand is not another installation"),
]


@pytest.mark.parametrize("positions, orders, trades, expected", ROWS)
def test_reconcile(positions, orders, trades, expected):
    issues = reconcile(positions, orders, trades, "x")
    assert [(i.kind, i.symbol, i.journal_id) for i in issues] == expected


def test_an_issue_says_both_sides_quantities():
    [issue] = reconcile([held(10)], [order()], [ours(6)], "x")
    assert issue.detail == {"ours": "6", "broker": "10"}
    assert issue.key == "QTY_MISMATCH:AAPL:1"


def test_an_unprotected_issue_says_what_the_stops_cover():
    [issue] = reconcile([held(10)], [order(qty=4)], [ours(10)], "x")
    assert issue.detail == {"position": "10", "stop_cover": "4"}


@pytest.mark.parametrize("orders, exit_side, expected", [
    pytest.param([order(qty=10, filled=3, status="partially_filled")], "sell", D(7),
                 id="a stop covers what it has not filled yet"),
    pytest.param([order(), order(kind="limit")], "sell", D(10),
                 id="a target's shares are not stop cover"),
    pytest.param([order("buy")], "sell", D(0),
                 id="a buy stop is no cover for a long"),
])
def test_stop_cover(orders, exit_side, expected):
    assert stop_cover(orders, "AAPL", exit_side) == expected
