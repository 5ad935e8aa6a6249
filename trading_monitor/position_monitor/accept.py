"""An operator's word that trades are gone at the broker (`trading-monitor reconcile
--accept-gone IDS --reason TEXT`): exactly those trades are closed, EXTERNAL, at their last
known price, `exit_estimated` set, with the reason; nothing else is touched.

Only a trade the books hold open *and* that reconciliation found gone (in the open incident,
or an open GONE_AT_BROKER issue) may be accepted, so a typo cannot close a live position; or
one held at another broker account than the books' (left open by `--adopt-account
--leave-open-trades`, closed there by the operator: no job reads that account).
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

from trading_monitor.db.connection import TradingDB
from trading_monitor.db.queries import Queries
from trading_monitor.domain.lifecycle import ExitReason, OrderRole
from trading_monitor.domain.pnl import closed_pnl
from trading_monitor.domain.ticks import price_text
from trading_monitor.engine.account_guard import trades_held_elsewhere
from trading_monitor.engine.state import LoadedTrade, load_trades
from trading_monitor.ledger import Ledger
from trading_monitor.ledger.runs import log_event
from trading_monitor.position_monitor.incident import INCIDENT_KEY, end_incident, open_incident

QUERIES = Queries(__name__)  # queries.sql beside this module


class NotGone(ValueError):
    """A trade named that reconciliation has not found gone (or that is not open)."""


def gone_trades(db: TradingDB) -> set[int]:
    """The trades reconciliation found gone: the incident's and the open GONE issues'; and
    those held at another account, which no reconciliation reads (issue 27)."""
    incident = open_incident(db) or {}
    elsewhere = {int(t["id"]) for t in trades_held_elsewhere(db)}
    rows = db.execute_query(QUERIES["gone_issue_trades"])
    return elsewhere | {int(t) for t in incident.get("trades", [])} | {
        int(r["trade_journal_id"]) for r in rows}


def accept_gone(db: TradingDB, ledger: Ledger, ids: list[int], why: str, now: datetime
                ) -> list[str]:
    """Close exactly `ids`; refuses all of them (NotGone) if any is not found gone."""
    trades = {t.state.journal_id: t for t in load_trades(db, ids)}
    known = gone_trades(db)
    wrong = [i for i in ids if i not in trades or trades[i].state.status.value != "POSITION"
             or i not in known]
    if wrong:
        raise NotGone("not closed (none of them): " + ", ".join(
            f"trade #{i} " + ("is not an open position" if i not in trades
                              or trades[i].state.status.value != "POSITION"
                              else "was not found gone at the broker") for i in wrong))
    done = [_close(db, ledger, trades[i], why, now) for i in ids]
    db.execute_update(QUERIES["resolve_accepted_gone"], [now, ledger.run_id, ids])
    _shrink_incident(db, ledger.run_id, set(ids), why)
    return done


def _close(db: TradingDB, ledger: Ledger, trade: LoadedTrade, why: str, now: datetime
           ) -> str:
    t = trade.state
    qty, avg = t.entry_filled[0] - t.exit_filled[0], t.entry_filled[1] or Decimal(0)
    marks = db.query("position_tracking", {"trade_journal_id": t.journal_id})
    price = (marks[0]["current_price"] if marks else None) or avg
    exits = [(f.qty, f.price) for f in t.fills if f.role is not OrderRole.ENTRY]
    pnl = closed_pnl(t.side, avg, [*exits, (qty, price)])  # the rest at the last mark
    text = f"EXTERNAL: accepted gone at the broker; {why}"
    ledger.close_trade(t.journal_id, exit_price=price, exit_at=now, pnl=pnl, fees=Decimal(0),
                       reason=ExitReason.EXTERNAL, text=text[:1000], estimated=True)
    log_event(db, ledger.run_id, "trade_journal", t.journal_id, "accepted_gone", text[:1000],
              detail={"qty": str(qty), "exit_price": str(price), "estimated": True})
    return (f"trade #{t.journal_id} {trade.journal['symbol']}: CLOSED EXTERNAL @ "
            f"{price_text(price)} (estimated)")


def _shrink_incident(db: TradingDB, run_id: str, closed: set[int], why: str) -> None:
    incident = open_incident(db)
    if incident is None:
        return
    left = [t for t in incident.get("trades", []) if int(t) not in closed]
    if not left:
        end_incident(db, run_id, f"every trade of the incident accepted gone: {why}")
        return
    incident["trades"] = left
    db.named_update("set_system_value", {"key": INCIDENT_KEY, "value": json.dumps(incident),
                                         "reason": f"trades still held: {left}"})
