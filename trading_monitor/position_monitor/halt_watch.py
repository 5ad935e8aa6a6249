"""Halted symbols (issue 21), from the one source every feed has: no trade printed for
HALT_SUSPECT_MINUTES while the session is open, for a symbol we hold. The market-data
`statuses` channel is read by the daemon's halt stream (daemon/halt_stream.py); HALT_SOURCE
says which source runs (symbol_halts.print_rule_on), and this rule lifts only its own flags.
The paper exchange's halt plays both (nothing prints while halted; a status is published). An
IEX quote that stays still in a thin name is not taken as a halt: only the last trade's time
counts. A flag the statuses channel saw lift is dropped here once LIFT_GRACE has passed.

Each position-monitor cycle uses the snapshots it already read (no request of its own): a
symbol newly without a print is flagged (system_state `symbols_halted`), with an ALERT
(`symbol_halt`) and an event; `status` lists it, `health` is WARNING, and new entries into it
are deferred by the executor until a print lifts it. Protection is kept as it is: nothing
here cancels, flattens or moves a stop.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from trading_monitor.domain.market import MarketSnapshot
from trading_monitor.domain.market_time import SESSION_OPEN, new_york_date, new_york_time
from trading_monitor.engine.state import LoadedTrade
from trading_monitor.engine.symbol_halts import LIFT_GRACE, Halted, print_rule_on, update_halted
from trading_monitor.ledger.alerts import alert
from trading_monitor.ledger.runs import log_event
from trading_monitor.position_monitor.context import PositionMonitor

log = logging.getLogger(__name__)


def suspects(market: dict[str, MarketSnapshot], symbols: Iterable[str], now: datetime,
             close: datetime | None, after: timedelta) -> dict[str, datetime]:
    """Symbol -> its last print, for each without one for `after` inside the session."""
    opened = new_york_time(new_york_date(now), SESSION_OPEN)
    if close is None or now > close or now < opened + after:
        return {}
    found = {}
    for symbol in symbols:
        snap = market.get(symbol)
        last = snap.last_trade_at if snap is not None else None
        if last is None or now - last >= after:
            found[symbol] = max(last or opened, opened)
    return found


def watch_halts(pm: PositionMonitor, trades: list[LoadedTrade],
                market: dict[str, MarketSnapshot], now: datetime,
                close: datetime | None) -> list[str]:
    m, after = pm.orders, pm.config.halt_suspect
    if m.dry_run:
        return []
    rule = after is not None and print_rule_on(m.db, pm.config.halt_source)
    held = {str(t.journal["symbol"]): t.state.journal_id for t in trades
            if t.state.status.value == "POSITION"}
    found = suspects(market, held, now, close, after) if rule and after is not None else {}
    minutes = f"no trade printed for {after.total_seconds() / 60:g} min" if after else ""
    done: list[str] = []

    def change(before: Halted) -> Halted:
        done.clear()
        kept = {s: v for s, v in before.items() if v.get("by") == "statuses" and not (
            v.get("lifted_at") and now - datetime.fromisoformat(v["lifted_at"]) > LIFT_GRACE)}
        for symbol, v in kept.items():  # a resume status missed (the stream was down)
            last = market[symbol].last_trade_at if symbol in market else None
            if not v.get("lifted_at") and last is not None and last > datetime.fromisoformat(
                    v["since"]):
                kept[symbol] = {**v, "lifted_at": now.isoformat(timespec="seconds")}
                done.append(f"{symbol}: prints again after the halt status: lifted")
        ours = {s: v for s, v in before.items() if v.get("by") != "statuses"}
        for symbol, last in found.items():
            if symbol in before:
                continue
            text = (f"{symbol}: {minutes} while the session is open (last print "
                    f"{last.isoformat(timespec='seconds')}): halted? trade #{held[symbol]} "
                    "holds it; its stop is kept as it is, new entries wait")
            done.append(text)
        done.extend(f"{s}: prints again: no longer flagged as halted" for s in ours
                    if s not in found)
        flagged = {s: ours.get(s) or {"since": last.isoformat(timespec="seconds"),
                                      "source": minutes, "by": "prints"}
                   for s, last in found.items() if s not in kept}
        return {**kept, **flagged}

    update_halted(m.db, "position monitor: last prints", change)
    for text in done:
        if "prints again" not in text:
            symbol = text.split(":", 1)[0]
            alert(log, "symbol_halt", symbol, "%s", text)
            log_event(m.db, m.run_id, "trade_journal", held[symbol], "symbol_halt", text)
    return done
