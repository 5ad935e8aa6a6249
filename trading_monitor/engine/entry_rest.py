"""Withdrawing a partly filled entry's unfilled rest, so its filled shares can be protected
(safety review R8).

Alpaca's wash-trade rule refuses a plain stop, and a market exit, while our own entry works
on the other side of the symbol (domain/wash_trade.py). A staged DAYTRADE's protection is a
plain stop, so the entry's rest is cancelled first, and the broker's final word decides:

- **final** (`canceled`, or `filled`: the rest filled while being cancelled): the trade is
  decided again at once, in the same run, and its stop goes out sized to what the entry
  filled in the end;
- **not final within `CANCEL_SETTLE_SECONDS`** (the cancel still pending, or refused: the
  entry can still fill): the filled shares are protected at once all the same, by an OCO,
  which the rule exempts (a complex order): the planned stop, and the planned target or, for
  a day trade without one, a target `BRIDGE_TARGET_R` times the risk beyond the average entry.
  Only the shares no live stop covers yet are protected (Alpaca takes a second closing order
  for shares the first does not hold), so shares the rest fills later get their own OCO.
  The trade keeps the OCO until it is closed (the end-of-day flatten cancels it like any
  stop); once the entry is final, a resize protects the whole position with its plain stop.
"""

from __future__ import annotations

import logging
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from trading_monitor.domain.ticks import price_text
from trading_monitor.domain.trade_actions import PlaceProtection
from trading_monitor.engine.cancelling import cancel_until_final
from trading_monitor.engine.context import Monitor
from trading_monitor.engine.protect import place_protection
from trading_monitor.engine.state import LoadedTrade, load_trades
from trading_monitor.ledger.alerts import alert

log = logging.getLogger(__name__)
ZERO = Decimal(0)
BRIDGE_TARGET_R = Decimal(3)
CENT = Decimal("0.01")


def withdraw_entry_rest(m: Monitor, trade: LoadedTrade) -> bool:
    """Cancel the entry's rest; True when the trade may be decided again at once (the
    broker's final word, or its filled shares protected by an OCO meanwhile)."""
    assert trade.state.entry is not None
    row = trade.order_row(trade.state.entry.row_id)
    order = m.broker.get_order(row["alpaca_order_id"]) if row["alpaca_order_id"] else None
    if order is None:
        return True  # unknown at the broker: the sync settles it
    done = cancel_until_final(m.broker, order, settle_seconds=m.config.cancel_settle_seconds,
                              sleep=m.sleep)
    m.ledger.record_order(row, done.order)  # fills the rest made meanwhile are booked too
    if done.final:
        if done.order.filled_qty > row["filled_qty"]:
            log.warning("%s filled %s while being cancelled: protected at that size",
                        row["client_order_id"], done.order.filled_qty)
        return True
    log.warning("cancel of %s not final: %s %s", row["client_order_id"], done.order.status,
                done.refused)
    m.retry_soon.add(trade.state.journal_id)
    [fresh] = load_trades(m.db, [trade.state.journal_id])
    return _bridge(m, fresh, done.refused or f"its cancel is {done.order.status}")


def _bridge(m: Monitor, trade: LoadedTrade, why: str) -> bool:
    """Protect the filled shares no stop covers with an OCO while the entry still works."""
    t = trade.state
    qty = t.position_qty - t.covered_qty()
    _, avg = t.entry_filled
    if qty <= 0 or t.planned_stop is None or avg is None or t.protection_mode == "bracket":
        return qty <= 0
    take = t.planned_take or bridge_target(t.side, avg, t.planned_stop)
    name = f"trade #{t.journal_id} {trade.journal['symbol']}"
    if take is None:
        alert(log, "unprotected", f"trade #{t.journal_id}",
              "%s: the entry's rest is still working (%s) and no target can bracket the stop; "
              "%s shares wait for the cancel", name, why, qty)
        return False
    accepted = place_protection(m, trade.journal,
                                PlaceProtection(qty, t.planned_stop, take, "gtc"))
    if accepted:
        log.warning("%s: the entry's rest is still working (%s); its %s filled shares are "
                    "protected by an OCO (stop %s, target %s), which the wash-trade rule "
                    "allows", name, why, qty, price_text(t.planned_stop), price_text(take))
    else:
        alert(log, "unprotected", f"trade #{t.journal_id}",
              "%s: the entry's rest is still working (%s) and the OCO for its %s filled "
              "shares was not accepted; retried", name, why, qty)
    return accepted


def bridge_target(side: str, avg: Decimal, stop: Decimal) -> Decimal | None:
    """A target `BRIDGE_TARGET_R` risks beyond the average entry, in whole cents away from
    the market; None when there is none (a short's would be at or below zero)."""
    risk = abs(avg - stop)
    if risk == 0:
        return None
    if side == "buy":
        return (avg + BRIDGE_TARGET_R * risk).quantize(CENT, ROUND_UP)
    take = (avg - BRIDGE_TARGET_R * risk).quantize(CENT, ROUND_DOWN)
    return take if take > 0 else None
