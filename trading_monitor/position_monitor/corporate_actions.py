"""Corporate actions before the open: the position monitor's pre-open run (docs/position-
monitor.md, "Corporate actions").

At 09:00 New York and at daemon start, `pre_open_once` reads Alpaca's announcements
(GET /v1/corporate-actions, data_quality=all, by ex-date) for every symbol we hold or have
working orders in, for today and the next trading day, stores them, raises an ALERT the
trading day before a merger, spin-off, worthless removal or redemption of a symbol we hold,
then runs the position-monitor cycle, which applies what is due (corporate_apply.py).

A missed announcement is found by every cycle from the activities (corporate_missed.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from trading_monitor.broker.base import Broker
from trading_monitor.clock import Clock, job_clock
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.locks import hold_lock
from trading_monitor.db.queries import Queries
from trading_monitor.domain.corporate import ENDING
from trading_monitor.domain.market_time import new_york_date
from trading_monitor.engine.account_guard import guarded
from trading_monitor.engine.context import Monitor, monitor_settings
from trading_monitor.engine.job_locks import ORDER_MONITOR_LOCK_KEY
from trading_monitor.engine.state import open_trades
from trading_monitor.ledger.alerts import alert
from trading_monitor.ledger.installation import installation_id
from trading_monitor.ledger.runs import log_event, recorded_run
from trading_monitor.ledger.splits import CorporateBooks
from trading_monitor.position_monitor.context import PositionMonitor
from trading_monitor.position_monitor.cycle import PositionReport, run_position_cycle
from trading_monitor.position_monitor.service import position_settings
from trading_monitor.settings.config import Settings

QUERIES = Queries(__name__)

log = logging.getLogger(__name__)


def pre_open_once(db_config: dict[str, Any], broker: Broker, settings: Settings, *,
                  mode: str | None = None, now: Clock | None = None,
                  sleep: Callable[[float], None] = time.sleep) -> PositionReport:
    """The pre-open run: announcements read and stored, then one position-monitor cycle."""
    now = now or job_clock(settings.clock_source.value, broker)
    db = TradingDB(config=db_config, application_name="trading-monitor pre-open").connect()
    try:
        with hold_lock(db, ORDER_MONITOR_LOCK_KEY, "order or position monitor",
                       settings.executor_lock_wait_seconds, sleep):
            def work(run_id: str) -> PositionReport:
                orders = Monitor(db=db, broker=guarded(db, broker, run_id), run_id=run_id,
                                 installation=installation_id(db),
                                 config=monitor_settings(settings), now=now, sleep=sleep)
                pm = PositionMonitor(orders=orders, config=position_settings(settings))
                read = read_announcements(pm)
                report = run_position_cycle(pm)
                report.actions = read + report.actions
                return report
            return recorded_run(db, "position_monitor", mode, now, lambda: broker.requests_sent,
                                work, lambda r: ("PARTIAL" if r.failing else "SUCCEEDED",
                                                 {**r.summary, "pre_open": True},
                                                 r.broker_requests))
    finally:
        db.close()


def symbols_of_interest(pm: PositionMonitor) -> set[str]:
    """Every symbol we hold or have working orders in (our trades', and the broker's), and
    those of decisions waiting for the executor (an entry into a symbol with an action that
    day is refused: the executor reads what is stored, with no request of its own)."""
    m = pm.orders
    symbols = {str(t.journal["symbol"]) for t in open_trades(m)}
    symbols |= {str(r["ticker"]).upper() for r in m.db.execute_query(
        QUERIES["unexecuted_decision_tickers"])}
    symbols |= {p.symbol for p in m.broker.get_positions()}
    symbols |= {o.symbol for o in m.broker.list_open_orders()}
    return symbols


def next_trading_day(broker: Broker, today: date) -> date:
    days = broker.get_calendar(today + timedelta(days=1), today + timedelta(days=10))
    return min((d.date for d in days if d.date > today), default=today + timedelta(days=1))


def read_announcements(pm: PositionMonitor) -> list[str]:
    m = pm.orders
    today = new_york_date(m.now())
    symbols = symbols_of_interest(pm)
    if not symbols:
        return ["corporate actions: nothing held or working"]
    following = next_trading_day(m.broker, today)
    found = m.broker.corporate_actions(symbols, today, following)
    books = CorporateBooks(m.db, m.run_id, m.now)
    done = [f"corporate action announced: {a.describe()}" for a in found
            if books.store_announcement(a)]
    done += alert_ending(pm, books, today, following)
    return done + [f"corporate actions read for {len(symbols)} symbols, {today} to {following}"]


def alert_ending(pm: PositionMonitor, books: CorporateBooks, today: date, following: date
                 ) -> list[str]:
    """An ALERT (once per action) for a merger, spin-off, worthless removal or redemption of
    a symbol we hold or work in, due today or the next trading day."""
    m = pm.orders
    held = {str(t.journal["symbol"]): t.state.journal_id for t in open_trades(m)}
    done = []
    for row in books.actions_between(today, following):
        if row["kind"] not in ENDING or row["alerted_at"] is not None or row["symbol"] not in held:
            continue
        text = (f"{row['symbol']}: {row['kind'].replace('_', ' ')} on "
                f"{row['effective_date'].isoformat()} (corporate action {row['action_id']}); "
                f"trade #{held[row['symbol']]} holds or works in it: new entries are refused "
                "that day, and the position is the trader's to decide on")
        alert(log, "corporate_action", f"{row['symbol']} {row['action_id']}", "%s", text)
        log_event(m.db, m.run_id, "trade_journal", held[row["symbol"]], "corporate_action",
                  text, detail={"action_id": row["action_id"], "kind": row["kind"]})
        books.mark_alerted(row["action_id"])
        done.append(text)
    return done
