"""Does a split explain an empty positions answer? (docs/position-monitor.md, "Corporate
actions".) An empty answer while our live stops stand is a broker fault (incident.py), unless
a stored split due by today in that symbol leaves our position there below one whole share:
the broker paid it in cash in lieu (corporate_cashout.py closes the trade). A split not
announced is looked for in the activities first (corporate_missed.py), as every cycle does.
"""

from __future__ import annotations

from trading_monitor.broker.models import BrokerPosition
from trading_monitor.db.queries import Queries
from trading_monitor.domain.corporate import LOOK_BACK, SPLITS  # a split applied late
from trading_monitor.domain.market_time import new_york_date, new_york_time
from trading_monitor.position_monitor.context import PositionMonitor
from trading_monitor.position_monitor.corporate_missed import discover_missed

QUERIES = Queries(__name__)


def _stored_explains(pm: PositionMonitor, symbols: set[str]) -> set[str]:
    db = pm.orders.db
    today = new_york_date(pm.orders.now())
    rows = db.execute_query(
        QUERIES["splits_due_in_symbols"],
        [list(SPLITS), today - LOOK_BACK, today, sorted(symbols), sorted(symbols)])
    explained: set[str] = set()
    for r in rows:
        if not r["old_rate"] or not r["new_rate"]:
            continue
        [held] = db.execute_query(
            QUERIES["open_qty_entered_before"],
            [r["symbol"], new_york_time(r["effective_date"])])
        if held["qty"] > 0 and held["qty"] * r["new_rate"] / r["old_rate"] < 1:
            explained |= {r["symbol"], r["new_symbol"] or r["symbol"]}
    return explained & symbols


def split_explains(pm: PositionMonitor, symbols: set[str],
                   positions: list[BrokerPosition]) -> set[str]:
    """Those of `symbols` (with our live stops, and no position at the broker) a due split
    paid in cash. DB reads only, unless one is unexplained: then the activities are looked
    up for a split we were not told of (at most every 30 minutes per mismatch)."""
    explained = _stored_explains(pm, symbols)
    if explained == symbols or pm.orders.dry_run:
        return explained
    if discover_missed(pm, positions):
        explained = _stored_explains(pm, symbols)
    return explained
