"""Work that is due by the clock rather than by a fill.

- Protective orders whose trade is no longer a position are cancelled after a grace period
  (seed 000's orphan cleanup).
- DAYTRADE positions are flattened at the close minus `EOD_FLATTEN_MINUTES` (15:50, or 12:50
  on a half day): their DAY legs would expire at the close and leave them naked.
- A GTC protective order near its `expires_at` (Alpaca cancels GTC orders after 90 days) is
  replaced by a new one before then.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

import pytz

from trading_monitor.db_layer import Row
from trading_monitor.domain.lifecycle import OrderRole, Purpose
from trading_monitor.order_monitor.context import Monitor
from trading_monitor.order_monitor.settle import (
    _submit,
    broker_held,
    cancel_orders,
    settle_trade,
)
from trading_monitor.order_monitor.state import LoadedTrade, load_trades

NEW_YORK = pytz.timezone("America/New_York")
LIVE = ("new", "accepted", "held", "partially_filled", "pending_new", "pending_cancel",
        "pending_replace")
log = logging.getLogger(__name__)


def cancel_orphans(m: Monitor) -> list[str]:
    rows = m.db.named("orphan_protective_orders", {"before": m.now() - m.config.orphan_grace})
    heads = [r for r in rows if r["parent_order_execution_id"] is None
             or not any(p["id"] == r["parent_order_execution_id"] for p in rows)]
    if not heads:
        return []
    names = ", ".join(r["client_order_id"] for r in heads)
    if m.dry_run:
        m.would(f"cancel orphaned protection {names}")
        return []
    cancel_orders(m, heads)
    return [f"cancelled orphaned protection {names}"]


def session_close(m: Monitor, day: date) -> datetime | None:
    """Today's close from the broker's calendar (a half day closes at 13:00), read once per
    day and kept in system_state; None on a day the market is shut."""
    key = f"session_close:{day.isoformat()}"
    rows = m.db.named("system_value", {"key": key})
    if rows:
        value = rows[0]["value"]
        return datetime.fromisoformat(value) if value else None
    days = m.broker.get_calendar(day, day)
    close = next((d.close for d in days if d.date == day), None)
    if not m.dry_run:
        m.db.named_update("set_system_value", {
            "key": key, "value": close.isoformat() if close else "",
            "reason": "the broker's calendar"})
    return close


def flatten_day_trades(m: Monitor, trades: list[LoadedTrade]) -> list[str]:
    """DAYTRADE positions (and, with FLATTEN_UNTRACKED, positions no trade explains) are
    closed at market from the close minus the offset."""
    day_trades = [t for t in trades if t.journal["trade_style"] == "DAYTRADE"
                  and t.journal["origin"] == "DECISION"]
    if not m.config.eod_flatten or not (day_trades or m.config.flatten_untracked):
        return []
    now = m.now()
    close = session_close(m, now.astimezone(NEW_YORK).date())
    if close is None or now < close - m.config.eod_flatten_before_close:
        return []
    done = []
    if m.config.flatten_untracked:
        day_trades += _adopt_untracked(m, trades)
    for trade in day_trades:
        done += flatten_trade(m, trade, Purpose.EOD_FLATTEN)
    return done


def _adopt_untracked(m: Monitor, trades: list[LoadedTrade]) -> list[LoadedTrade]:
    """Seed 004: positions at the broker that none of our trades holds, as EXTERNAL trades."""
    held = {t.journal["symbol"] for t in trades if t.state.position_qty > 0}
    adopted = []
    for p in m.broker.get_positions():
        if p.symbol in held or p.qty == 0:
            continue
        if m.dry_run:
            m.would(f"flatten untracked {p.qty} {p.symbol}")
            continue
        log.error("ALERT untracked position %s %s: adopted to flatten it (FLATTEN_UNTRACKED)",
                  p.qty, p.symbol)
        jid = m.ledger.adopt_external_position(p.symbol, p.qty, p.avg_entry_price,
                                               "untracked at the broker; FLATTEN_UNTRACKED")
        adopted += load_trades(m.db, [jid])
    return adopted


def flatten_trade(m: Monitor, trade: LoadedTrade, purpose: Purpose) -> list[str]:
    """Cancel what holds the shares (and a working entry), then close at market."""
    t = trade.state
    if any(r["order_role"] == OrderRole.EXIT.value and r["purpose"] == purpose.value
           and r["order_status"] not in ("canceled", "expired", "rejected", "not_sent")
           for r in trade.orders):
        return []  # already on its way out
    text = f"trade #{t.journal_id} {trade.journal['symbol']}: {purpose.value}"
    if m.dry_run:
        m.would(f"flatten {text}")
        return []
    live = [r for r in trade.orders if r["alpaca_order_id"] and r["order_status"] in LIVE]
    live_ids = {r["id"] for r in live}
    # One DELETE per group: an OCO's parent takes its leg along; a filled bracket's entry is
    # gone, so its legs (which hold the shares) are cancelled themselves.
    heads = [r for r in live if r["parent_order_execution_id"] not in live_ids]
    if heads and not cancel_orders(m, heads):
        return [f"{text}: waiting for cancels to be final"]
    [trade] = load_trades(m.db, [t.journal_id])
    qty = min(trade.state.position_qty, broker_held(m, trade.journal))
    if qty <= 0:
        settle_trade(m, trade)
        return [f"{text}: nothing left to flatten at the broker"]
    row = m.ledger.write_exit_intent(trade.journal, m.installation, qty=qty, purpose=purpose)
    order = _submit(m, trade.journal, [row])
    if order is None:
        return [f"{text}: the market exit of {qty} was not accepted; retried next cycle"]
    return [f"{text}: sold {qty} at market" if t.side == "buy" else
            f"{text}: bought back {qty} at market"]


def renew_aging_gtc(m: Monitor, trades: list[LoadedTrade]) -> list[str]:
    limit = m.now() + m.config.gtc_renew_before
    done = []
    for trade in trades:
        entries = {int(r["id"]) for r in trade.orders
                    if r["order_role"] == OrderRole.ENTRY.value}
        aging = [r for r in trade.orders if _aging(r, limit, entries)]
        if not aging:
            continue
        names = ", ".join(r["client_order_id"] for r in aging)
        if m.dry_run:
            m.would(f"replace aging GTC protection {names}")
            continue
        if cancel_orders(m, aging):
            [fresh] = load_trades(m.db, [trade.state.journal_id])
            done.append(f"renewed {names}: " + "; ".join(settle_trade(m, fresh)))
    return done


def _aging(r: Row, limit: datetime, entry_ids: set[int]) -> bool:
    """A live GTC exit near Alpaca's 90-day expiry: a stop or OCO of ours, or a leg of a
    filled bracket (its parent is the entry; an OCO's leg goes with its parent)."""
    parent = r["parent_order_execution_id"]
    return (r["order_role"] != OrderRole.ENTRY.value and r["time_in_force"] == "gtc"
            and r["expires_at"] is not None and r["expires_at"] <= limit
            and (parent is None or parent in entry_ids)
            and r["order_status"] in ("new", "accepted", "held"))
