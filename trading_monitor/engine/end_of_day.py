"""The end of the session for day trades (DAYTRADE decisions).

- From the close minus `EOD_FLATTEN_MINUTES` (15:50, 12:50 on a half day) to the close, a
  resting DAYTRADE entry is withdrawn on the broker's final word and every DAYTRADE position
  is closed at market (`flatten.py`: the stop goes only when the exit can go, and comes back
  at once if the exit is refused or does not fill). With `FLATTEN_UNTRACKED`, positions no
  trade explains are adopted and closed too, once they have outlasted reconciliation's
  grace (Alpaca's positions still show shares our own exit sold a second ago).
- A day trade not flat by the close has a GTC stop before 16:00, with an ALERT, and keeps it
  until it is closed: its own protection is GTC from the start (trade_state.decide); a
  bracket's DAY legs are replaced by a GTC stop when the flatten cannot close it (a refused
  or resting exit) or does not run (`EOD_FLATTEN=false`: from the flatten time).
- From the close on, no exit is sent (a market order would wait for the next open, whatever
  the gap): the flatten tries again at the next session's flatten time; the GTC stop
  protects it until then.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from trading_monitor.domain.lifecycle import OrderRole, Purpose
from trading_monitor.domain.order_status import OrderStatus
from trading_monitor.domain.trade_state import ResizePosition, decide
from trading_monitor.engine.context import Monitor
from trading_monitor.engine.exits_working import unfilled_lines
from trading_monitor.engine.flatten import (
    STOP_CANCEL_WAIT_SECONDS,
    flatten_trade,
    protect_again,
    release_shares,
)
from trading_monitor.engine.session import flatten_time, todays_close
from trading_monitor.engine.settle import describe
from trading_monitor.engine.state import LoadedTrade, load_trades
from trading_monitor.engine.symbol_halts import halted
from trading_monitor.engine.untracked import clear_gone, seen_long_enough
from trading_monitor.ledger.alerts import alert

log = logging.getLogger(__name__)
ZERO = Decimal(0)
CLOSING = (OrderRole.STOP_LOSS.value, OrderRole.TAKE_PROFIT.value, OrderRole.EXIT.value)


def flatten_day_trades(m: Monitor, trades: list[LoadedTrade]) -> list[str]:
    day_trades = [t for t in trades if t.journal["trade_style"] == "DAYTRADE"
                  and t.journal["origin"] == "DECISION"]
    if not day_trades and not m.config.flatten_untracked:
        return []
    close, now = todays_close(m), m.now()
    if close is None or now >= close:
        return [line for t in day_trades if t.state.position_qty > 0
                for line in keep_overnight(m, t)]
    if now < flatten_time(m, close):
        return []
    if not m.config.eod_flatten:  # it stays open overnight: a GTC stop before the close
        return [line for t in day_trades if t.state.position_qty > 0 for line in
                keep_overnight(m, t, "the day trade stays open overnight (EOD_FLATTEN=false)")]
    if m.config.flatten_untracked:
        day_trades += _adopt_untracked(m, trades)
    done: list[str] = []
    for trade in day_trades:
        if trade.state.position_qty > 0 and _not_tradable(m, trade.journal["symbol"]):
            # A halted symbol: an exit cannot trade, so its stop is not taken away for one.
            done += [f"trade #{trade.state.journal_id} {trade.journal['symbol']}: not "
                     "tradable now (halted): its stop stays, GTC; the flatten is retried",
                     *keep_overnight(m, trade, "not tradable now (halted): no exit can go")]
            continue
        done += flatten_trade(m, trade, Purpose.EOD_FLATTEN)
    return done + unfilled_lines(m.db, [t.state.journal_id for t in day_trades])  # issue 21


def flatten_now(m: Monitor, trade: LoadedTrade) -> list[str] | None:
    """The stream's end-of-day step for one DAYTRADE (listener.py): within the flatten
    window, the moment its stop's cancel is final the exit goes at once (a stop that filled
    instead leaves nothing to sell: the settle step books the close). A stop whose cancel
    is still pending protects meanwhile: nothing is sent for its shares (Alpaca holds
    them). None outside the window, or for another trade: the settle step has it."""
    t = trade.state
    if trade.journal["trade_style"] != "DAYTRADE" or trade.journal["origin"] != "DECISION" \
            or t.status.value != "POSITION" or t.position_qty <= 0 \
            or not m.config.eod_flatten or m.dry_run:
        return None
    close, now = todays_close(m), m.now()
    if close is None or now >= close or now < flatten_time(m, close):
        return None
    stops = [OrderStatus(r["order_status"]) for r in trade.orders
             if r["order_role"] == OrderRole.STOP_LOSS.value and r["alpaca_order_id"]]
    name = f"trade #{t.journal_id} {trade.journal['symbol']}"
    if any(s.settling for s in stops):
        done = [f"{name}: its stop's cancel is not final yet; the stop protects meanwhile"]
        for action in decide(t, now, m.config.rules):
            if isinstance(action, ResizePosition):  # part of the stop filled meanwhile
                m.ledger.resize_position(t.journal_id, action.qty, action.avg_price)
                done.append(describe(trade, action))
        return done
    if any(s.protects for s in stops) or not any(s.withdrawn for s in stops) \
            or _not_tradable(m, trade.journal["symbol"]):
        return None  # protected, or not the flatten's cancel: the settle step has it
    return flatten_trade(m, trade, Purpose.EOD_FLATTEN)


def _not_tradable(m: Monitor, symbol: str) -> bool:
    if symbol in halted(m.db):  # no print for HALT_SUSPECT_MINUTES (halt_watch.py, issue 21)
        return True
    asset = m.broker.get_asset(symbol)
    return asset is not None and not asset.tradable


def _adopt_untracked(m: Monitor, trades: list[LoadedTrade]) -> list[LoadedTrade]:
    """Seed 004: positions at the broker that none of our trades holds, as EXTERNAL trades,
    once past the grace (the same rule as reconciliation's)."""
    ours = {t.journal["symbol"] for t in trades
            if t.state.position_qty > 0 or t.state.entry_working}
    untracked = [p for p in m.broker.get_positions() if p.qty != 0 and p.symbol not in ours]
    clear_gone(m, {p.symbol for p in untracked})
    adopted = []
    for p in untracked:
        if not seen_long_enough(m, p):
            log.warning("untracked %s %s: flattened only once it outlasts the grace (the "
                        "broker's positions can lag our own fills)", p.qty, p.symbol)
            continue
        if m.dry_run:
            m.would(f"flatten untracked {p.qty} {p.symbol}")
            continue
        alert(log, "untracked_position", p.symbol,
              "untracked position %s %s: adopted to flatten it (FLATTEN_UNTRACKED)",
              p.qty, p.symbol)
        jid = m.ledger.adopt_external_position(p.symbol, p.qty, p.avg_entry_price,
                                               "untracked at the broker; FLATTEN_UNTRACKED")
        adopted += load_trades(m.db, [jid])
    return adopted


def keep_overnight(m: Monitor, trade: LoadedTrade,
                   why: str = "the day trade is still open after the close") -> list[str]:
    """A day trade that stays open past the close: its protection is one GTC stop, with an
    ALERT. A DAY stop (a bracket's leg) is cancelled, followed to the broker's final word,
    and a GTC stop placed for every share it covered."""
    t, name = trade.state, f"trade #{trade.state.journal_id} {trade.journal['symbol']}"
    kept = sum((o.open_qty for o in t.exits if o.role is OrderRole.STOP_LOSS
                and o.time_in_force == "gtc" and OrderStatus(o.status).protects), ZERO)
    if kept >= t.position_qty:
        alert(log, "exit_failed", f"trade #{t.journal_id}",
              "%s: %s; its GTC stop covers %s shares", name, why, kept)
        return []
    if m.dry_run:
        m.would(f"protect {name} overnight with a GTC stop")
        return []
    final, ids = release_shares(m, trade, roles=CLOSING, stop_wait=STOP_CANCEL_WAIT_SECONDS)
    if not final:
        return [f"{name}: waiting for the broker's final word before its GTC stop"]
    [fresh] = load_trades(m.db, [t.journal_id])
    cover = sum((r["qty"] - r["filled_qty"] for r in fresh.orders if r["id"] in ids
                 and r["order_role"] == OrderRole.STOP_LOSS.value
                 and OrderStatus(r["order_status"]).withdrawn), ZERO)
    return [f"{name}: DAYTRADE still open at the close", *protect_again(m, fresh, cover, why)]
