"""Trades held at another broker account than the books' (issue 27).

`trading-monitor reconcile --adopt-account NEW --leave-open-trades` keeps the old account's
open trades open in the books, held there and managed by no job. The broker `check` reads is
the books' account: the orders of every trade written against another account (open or
closed) are not in it, so the broker's checks run without those trades (not this account's
to protect or to find), and each open one is a WARNING under live_stop naming its account,
so none is dropped silently. Without a broker read (or with no such trade) the books are
checked whole.
"""

from __future__ import annotations

from dataclasses import replace

from trading_monitor.db.connection import Row
from trading_monitor.invariants.model import WARNING, Books, Finding, trade_label


def without(books: Books, elsewhere: list[Row]) -> Books:
    """`books` less the trades `elsewhere` names, their orders, fills and position rows."""
    ids = {int(t["id"]) for t in elsewhere}
    if not ids:
        return books

    def mine(r: Row) -> bool:
        return r["trade_journal_id"] is None or int(r["trade_journal_id"]) not in ids
    return replace(books, trades=[t for t in books.trades if int(t["id"]) not in ids],
                   orders=[o for o in books.orders if mine(o)],
                   fills=[f for f in books.fills if mine(f)],
                   positions=[p for p in books.positions if mine(p)])


def held_findings(books: Books, elsewhere: list[Row], account: str | None) -> list[Finding]:
    return [Finding("live_stop", WARNING,
                    f"{trade_label(books.trade_by_id.get(int(t['id']), t))}: held at broker "
                    f"account {t['broker_account_id']}, not the books' {account}: managed by "
                    "no job and not checked against this account (close it there, then "
                    "`trading-monitor reconcile --accept-gone`)",
                    trade_id=int(t["id"]), decision_id=t.get("initial_analysis_id"),
                    detail={"account": t["broker_account_id"], "books": account})
            for t in elsewhere]
