"""Fail-closed reconciliation (issue 27): when the broker's picture cannot be believed, book
nothing.

- *A mass disappearance*: RECONCILE_INCIDENT_TRADES (2) of our trades, or
  RECONCILE_INCIDENT_PCT (30) % of our open positions, gone at the broker in one
  reconciliation with no fill to explain them. A trader's own closes leave fills (the fill
  feed stores them), so several trades vanishing without one at the same moment is an
  exchange restarted with an empty book, a paper reset, other keys, or an outage; booking
  them would invent P&L for every trade at once.
- *A contradicted answer*: the positions list is empty while the account's long or short
  market value is not zero, or it lists no position of ours (perhaps one of a class we do
  not trade) while live stops of ours whose entries filled are at the broker — unless a
  split due in that symbol paid the whole position in cash in lieu (corporate_cashout.py).
  That cycle's reconciliation is skipped (a broker fault); if it lasts past the grace it is
  an incident too.

An incident is system_state 'reconciliation_incident' (JSON: cause, trades, opened_at):
entries halt (halt_reconciliation), a CRITICAL `reconciliation_incident` ALERT lists the
trades, `health` is CRITICAL. It ends by itself when the broker shows the positions again,
or when `trading-monitor reconcile --accept-gone IDS --reason TEXT` closes the trades named.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from decimal import Decimal

from trading_monitor.broker.models import BrokerAccount, BrokerOrder, BrokerPosition
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.queries import Queries
from trading_monitor.domain.reconcile import STOP_TYPES
from trading_monitor.engine.incident_state import INCIDENT_KEY as INCIDENT_KEY
from trading_monitor.engine.incident_state import open_incident as open_incident
from trading_monitor.engine.state import LoadedTrade
from trading_monitor.exceptions import TemporaryError
from trading_monitor.ledger.alerts import alert
from trading_monitor.ledger.runs import log_event
from trading_monitor.position_monitor.context import PositionMonitor
from trading_monitor.position_monitor.corporate_explains import split_explains

log = logging.getLogger(__name__)
QUERIES = Queries(__name__)  # queries.sql beside this module
FAULT_KEY = "reconciliation_broker_fault"  # when a contradicted answer was first seen


def is_mass(gone: int, open_positions: int, trades: int, pct: Decimal) -> bool:
    """Never one trade alone (the single-trade rule closes it, once its reads are sound)."""
    if gone < 2 or open_positions <= 0:
        return False
    return gone >= trades or Decimal(gone) * 100 / open_positions >= pct


def raise_incident(pm: PositionMonitor, cause: str, trades: list[tuple[int, str]],
                   now: datetime) -> bool:
    """Open the incident, or widen it to more trades; alerted each time it changes."""
    db, run_id = pm.orders.db, pm.orders.run_id
    before = open_incident(db)
    ids = sorted({t for t, _ in trades} | set((before or {}).get("trades", [])))
    if before is not None and ids == sorted(before.get("trades", [])):
        return False
    names = ", ".join(f"trade #{t} {s}" for t, s in sorted(trades))
    value = {"cause": cause, "trades": ids, "symbols": {str(t): s for t, s in trades},
             "opened_at": (before or {}).get("opened_at") or now.isoformat()}
    db.named_update("set_system_value", {"key": INCIDENT_KEY, "value": json.dumps(value),
                                         "reason": f"{cause}: {names}"[:1000]})
    log_event(db, run_id, "system_state", None, "incident_opened" if before is None
              else "incident_widened", f"{INCIDENT_KEY}: {cause}: {names}",
              to_status="open", detail=value)
    alert(log, "reconciliation_incident", "reconciliation incident",
          "reconciliation incident: %s; NOTHING booked for %s. Entries are halted until the "
          "broker shows these positions again, or `trading-monitor reconcile --accept-gone "
          "%s --reason ...` closes them (estimated)", cause, names,
          ",".join(str(t) for t in ids))
    return True


def end_incident(db: TradingDB, run_id: str, why: str) -> bool:
    if open_incident(db) is None:
        return False
    db.named_update("set_system_value", {"key": INCIDENT_KEY, "value": "", "reason": why})
    log_event(db, run_id, "system_state", None, "incident_closed",
              f"{INCIDENT_KEY}: {why}", from_status="open")
    log.warning("reconciliation incident over: %s", why)
    return True


def contradiction(pm: PositionMonitor, every: list[BrokerPosition], account: BrokerAccount,
                  orders: dict[str, BrokerOrder]) -> str | None:
    """Why an empty positions list cannot be true, or None when nothing says otherwise.

    The account's market values speak only when nothing at all is listed (they include a
    position of a class we do not trade); our live stops whenever no position of ours is."""
    if any(p.managed for p in every):
        return None
    values = [v for v in (account.long_market_value, account.short_market_value)
              if v is not None and v != 0]
    if values and not every:
        return (f"the broker lists no position while its account says long_market_value "
                f"{account.long_market_value}, short_market_value "
                f"{account.short_market_value}")
    stops = _live_stops_of_ours(pm.orders.db, orders)
    if stops:  # unless a due split paid those positions in cash in lieu (issue 21)
        paid = split_explains(pm, set(stops), [p for p in every if p.managed])
        stops = [s for s in stops if s not in paid]
    if stops:
        return (f"the broker lists no position of ours while {len(stops)} live stop(s) of "
                f"ours on {', '.join(sorted(set(stops)))} protect filled entries")
    return None


def _live_stops_of_ours(db: TradingDB, orders: dict[str, BrokerOrder]) -> list[str]:
    """Symbols of open stop orders that are our STOP_LOSS rows and whose entry filled (a
    held leg of an unfilled bracket entry says nothing about a position)."""
    parents = {leg.id: o for o in orders.values() for leg in o.legs}
    candidates = [o for o in orders.values() if o.order_type in STOP_TYPES and (
        o.id not in parents or parents[o.id].side == o.side
        or parents[o.id].status == "filled")]
    if not candidates:
        return []
    rows = db.execute_query(  # of an open trade: a closed one's leftover says nothing
        QUERIES["open_trade_stops"], [[o.id for o in candidates]])
    ours = {r["alpaca_order_id"] for r in rows}
    return [o.symbol for o in candidates if o.id in ours]


def fault_since(pm: PositionMonitor, text: str, now: datetime) -> datetime:
    """When this run of contradicted answers began (kept across cycles)."""
    db = pm.orders.db
    rows = db.named("system_value", {"key": FAULT_KEY})
    if rows and rows[0]["value"]:
        try:
            return datetime.fromisoformat(str(rows[0]["value"]))
        except ValueError:
            pass
    if not pm.orders.dry_run:
        db.named_update("set_system_value", {"key": FAULT_KEY, "value": now.isoformat(),
                                             "reason": text[:1000]})
    return now


def fault_cleared(pm: PositionMonitor) -> None:
    rows = pm.orders.db.named("system_value", {"key": FAULT_KEY})
    if rows and rows[0]["value"] and not pm.orders.dry_run:
        pm.orders.db.named_update("set_system_value", {
            "key": FAULT_KEY, "value": "", "reason": "the positions answer agrees again"})


def history_readable(pm: PositionMonitor, trade: LoadedTrade,
                     orders: dict[str, BrokerOrder]) -> str | None:
    """None when the broker knows every order this trade sent (its order history reads);
    else why not. A reset or another account does not know them; an outage cannot say."""
    rows = pm.orders.db.execute_query(QUERIES["sent_orders_of_trade"],
                                      [trade.state.journal_id])
    for row in rows:
        if row["alpaca_order_id"] in orders:
            continue
        try:
            found = pm.orders.broker.get_order(row["alpaca_order_id"])
        except TemporaryError as exc:
            return f"its order {row['alpaca_order_id']} could not be read ({exc})"
        if found is None:
            return f"the broker does not know its order {row['alpaca_order_id']}"
    return None
