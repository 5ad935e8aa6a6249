"""What the broker really holds, for `health`'s protection check: our positions and our live
stops there, not only what the books say (two reads: positions and open orders).

- A position the trader closed by hand at the broker is not an unprotected position: it is
  a close the monitors have not booked yet.
- A stop the books call live but the broker no longer lists (cancelled by hand, an emptied
  book) protects nothing: the position is unprotected.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.models import BrokerOrder
from trading_monitor.broker.transport import RequestBudget
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.queries import Queries
from trading_monitor.exceptions import TradingMonitorError
from trading_monitor.settings.config import Settings

QUERIES = Queries(__name__)  # queries.sql beside this module

ZERO = Decimal(0)
STOP_TYPES = frozenset({"stop", "stop_limit", "trailing_stop"})


@dataclass(frozen=True)
class BrokerTruth:
    held: dict[tuple[str, str], Decimal]  # (symbol, "buy"|"sell" side of the trade) -> shares
    stops: dict[str, BrokerOrder]  # every open stop order at the broker, by its id

    def holds(self, symbol: str, side: str) -> Decimal:
        return self.held.get((symbol, side), ZERO)

    def stop_qty(self, order_ids: list[str]) -> Decimal:
        found = [self.stops[i] for i in order_ids if i in self.stops]
        return sum((o.qty - (o.filled_qty or ZERO) for o in found), ZERO)


def read_truth(settings: Settings) -> BrokerTruth | str:
    """The broker's positions and open stops, or why they could not be read."""
    try:
        broker = AlpacaBroker(settings.model_copy(update={"broker_read_retries": 0}),
                              budget=RequestBudget(settings.broker_requests_per_minute))
        positions = broker.get_positions()
        orders = broker.list_open_orders()
    except TradingMonitorError as exc:
        return " ".join(str(exc).split())
    held: dict[tuple[str, str], Decimal] = {}
    for p in positions:
        key = (p.symbol, "buy" if p.qty > 0 else "sell")
        held[key] = held.get(key, ZERO) + abs(p.qty)
    flat = [leg for o in orders for leg in (o, *o.legs)]
    return BrokerTruth(held, {o.id: o for o in flat if o.order_type in STOP_TYPES})


def our_stop_ids(db: TradingDB, trades: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {t: [] for t in trades}
    for row in db.execute_query(QUERIES["our_stops"], {"trades": trades}):
        out[int(row["trade_journal_id"])].append(str(row["alpaca_order_id"]))
    return out
