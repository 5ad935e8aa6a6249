"""What a security that ended paid for our shares (docs/position-monitor.md, "Corporate
actions"): a trade gone at the broker in a symbol with a stored cash merger, redemption or
worthless removal is closed at what the action paid, not at its last price.

The price is the MA (merger) or REORG (redemption, worthless removal) activity's cash over
its quantity; a worthless removal with no activity posted yet paid nothing. A cash merger or
redemption whose activity is not posted yet returns None: reconciliation's usual rule (the
last known price, marked estimated) applies. A stock merger (shares of the acquirer) and a
spin-off are not valued here (docs: the acquirer's shares are a position of their own).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from trading_monitor.db.queries import Queries
from trading_monitor.domain.corporate import LOOK_BACK
from trading_monitor.domain.market_time import new_york_date, new_york_time
from trading_monitor.engine.state import LoadedTrade
from trading_monitor.position_monitor.context import PositionMonitor

QUERIES = Queries(__name__)

PAID_IN_CASH = {"cash_merger": "MA", "redemption": "REORG", "worthless_removal": "REORG"}


@dataclass(frozen=True)
class Ended:
    price: Decimal  # cash per share paid
    at: datetime
    text: str


def ending_price(pm: PositionMonitor, trade: LoadedTrade) -> Ended | None:
    m = pm.orders
    symbol = str(trade.journal["symbol"])
    today = new_york_date(m.now())
    rows = m.db.execute_query(
        QUERIES["ending_actions_for_symbol"],
        [symbol, list(PAID_IN_CASH), today - LOOK_BACK, today])
    entered = trade.journal["entry_date"]
    rows = [r for r in rows if entered is None or entered < new_york_time(r["effective_date"])]
    if not rows:
        return None
    row = rows[0]
    kind, since = row["kind"], new_york_time(row["effective_date"])
    what = f"{kind.replace('_', ' ')} (corporate action {row['action_id']})"
    for act in m.broker.account_activities([PAID_IN_CASH[kind]], after=since - timedelta(days=1)):
        if act.symbol == symbol and act.qty and act.status != "canceled":
            price = abs(act.net_amount or Decimal(0)) / abs(act.qty)
            return Ended(price, since, f"{what}: {act.activity_type} activity {act.id} paid "
                                       f"{act.net_amount or 0} for {abs(act.qty)} shares")
    if kind == "worthless_removal":
        return Ended(Decimal(0), since, f"{what}: nothing paid (no activity posted yet)")
    return None
