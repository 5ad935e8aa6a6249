"""Exits at market that take a position's protection away: the end-of-day flatten and the
kill switch.

The rules, each from a defect the safety review found:

- Shares are never left without a stop. Alpaca refuses a market exit for shares a stop
  holds, so the stop is cancelled first, on the broker's final word, and the exit goes out
  only then. If the exit is refused, or does not fill at once, the stop is put back at
  once (GTC, so it outlives the close), with an ALERT.
- The end-of-day flatten follows its stop's cancel to the broker's final word in the same
  run, for up to `STOP_CANCEL_WAIT_SECONDS` and never past the close, and sends the exit the
  moment it is final: from then on the shares have no stop until the exit goes. A cancel
  still pending then is an ALERT; the next cycle follows it. An exit is never sent from the
  close on: the stop is put back instead (GTC).
- Every share a cancelled stop covered is sold or covered again, even when our books hold
  fewer (a split the books never learnt).
- No closing order for shares our own working or just-filled exit already closes: Alpaca's
  positions lag its orders, so the broker's quantity is trusted only as a cap, and another
  of our exits still working on the symbol is taken off it.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from trading_monitor.db.connection import Row
from trading_monitor.db.queries import Queries
from trading_monitor.domain.lifecycle import (
    LIVE_ORDER_STATUSES,
    PENDING_SUBMIT,
    WITHDRAWN_ORDER_STATUSES,
    OrderRole,
    Purpose,
)
from trading_monitor.domain.ticks import price_text
from trading_monitor.engine.cancelling import cancel_until_final
from trading_monitor.engine.context import Monitor
from trading_monitor.engine.protect import follow_exit, lag_safe
from trading_monitor.engine.session import todays_close
from trading_monitor.engine.settle import (
    _submit,
    broker_held,
    cancel_orders,
    settle_trade,
)
from trading_monitor.engine.state import LoadedTrade, load_trades
from trading_monitor.engine.untracked import own_fill_since
from trading_monitor.ledger.alerts import alert

log = logging.getLogger(__name__)
QUERIES = Queries(__name__)  # queries.sql beside this module
ZERO = Decimal(0)
# How long the end-of-day flatten follows its stop's cancel (reads back off to one every
# STOP_CANCEL_MAX_POLL seconds: about 17 reads), within JOB_DEADLINE_SECONDS (300) and no
# longer than the stream waits for the order monitor's lock (EXECUTOR_LOCK_WAIT_SECONDS, 60).
STOP_CANCEL_WAIT_SECONDS = 60.0
STOP_CANCEL_MAX_POLL = 5.0
LIVE = tuple(sorted(LIVE_ORDER_STATUSES))
# The position monitor's market exits (a resting stop's cover, an approved target): followed
# to their fill in the run that sends them, which books it and closes the trade there
# (position_monitor/cycle.py), so the run never ends with our books holding shares the
# broker has sold. The others follow their own exits (the flatten above, flatten_one.py).
FOLLOWED = frozenset({Purpose.EMERGENCY, Purpose.TARGET_HIT})


def flatten_trade(m: Monitor, trade: LoadedTrade, purpose: Purpose, *,
                  whole_position: bool = False) -> list[str]:
    """Cancel what holds the shares (and a working entry), then close at market.

    `whole_position` (the kill switch) sells what the broker holds on the trade's side of
    the symbol, not what our books hold, unless a fill of ours is too recent for the
    broker's positions to be trusted.
    """
    text = f"trade #{trade.state.journal_id} {trade.journal['symbol']}: {purpose.value}"
    working = _exits(trade, purpose, LIVE_ORDER_STATUSES | {PENDING_SUBMIT})
    if working and purpose is Purpose.EOD_FLATTEN:
        return _rested(m, trade, working, text)  # it should have filled by now
    if working or _exits(trade, purpose, {"filled"}):
        return []  # already on its way out (a kill switch's exit may wait for the open)
    if m.dry_run:
        m.would(f"flatten {text}")
        return []
    eod = purpose is Purpose.EOD_FLATTEN
    final, live_ids = release_shares(m, trade, stop_wait=_stop_wait(m) if eod else None)
    if not final:
        return [f"{text}: waiting for cancels to be final"]
    [trade] = load_trades(m.db, [trade.state.journal_id])
    cover = covered_by(trade, live_ids)
    close = todays_close(m) if eod else None
    if close is not None and m.now() >= close:  # an exit now would wait for the next open
        return [f"{text}: the close came before its stop's cancel was final",
                *protect_again(m, trade, cover, "the close came before the exit could go")]
    qty = _exit_qty(m, trade, cover, whole_position)
    if qty <= 0:
        return [f"{text}: nothing left to flatten at the broker", *settle_trade(m, trade)]
    row = m.ledger.write_exit_intent(trade.journal, m.installation, qty=qty, purpose=purpose)
    order = _submit(m, trade.journal, [row])
    if order is None or order.status in WITHDRAWN_ORDER_STATUSES:
        return [f"{text}: the market exit of {qty} was not accepted",
                *protect_again(m, trade, cover, "its exit was refused")]
    if purpose is Purpose.EOD_FLATTEN and order.status != "filled":
        return [f"{text}: sent {qty} at market", *_unless_filled(m, trade, row, cover, text)]
    if purpose in FOLLOWED and order.status != "filled":
        order = follow_exit(m, row) or order  # its fill booked in this run (settled after)
    side = "sold" if trade.state.side == "buy" else "bought back"
    return [f"{text}: {side} {qty} at market"]



def release_shares(m: Monitor, trade: LoadedTrade, roles: tuple[str, ...] | None = None,
                   stop_wait: float | None = None) -> tuple[bool, set[int]]:
    """Cancel every live order of the trade that holds its shares (of `roles`, if given),
    on the broker's final word; returns (all final, the ids it cancelled). With `stop_wait`,
    the stops' cancels are followed for that many seconds (the exit must go the moment they
    are final), else for CANCEL_SETTLE_SECONDS.

    One DELETE per group: an OCO's parent takes its leg along, and a filled bracket's legs
    (its entry is gone) go together. What does not protect goes first, the stops last, and
    only once the rest is final: while a cancel is pending the stop stays live.
    """
    live = [r for r in trade.orders if r["alpaca_order_id"] and r["order_status"] in LIVE
            and (roles is None or r["order_role"] in roles)]
    live_ids = {r["id"] for r in live}
    heads = [r for r in live if r["parent_order_execution_id"] not in live_ids]
    first = [r for r in heads if r["order_role"] != OrderRole.STOP_LOSS.value]
    last = [r for r in heads if r["order_role"] == OrderRole.STOP_LOSS.value]
    if first and not cancel_orders(m, first):
        return False, live_ids
    # A filled bracket's stop leg has gone with its target's cancel (one group at the
    # broker): read back as final, it is not cancelled again.
    if last and not (cancel_orders(m, last) if stop_wait is None
                     else _cancel_stops(m, last, stop_wait)):
        return False, live_ids
    return True, live_ids


def _stop_wait(m: Monitor) -> float:
    close = todays_close(m)
    left = (close - m.now()).total_seconds() if close is not None else 0.0
    return max(min(STOP_CANCEL_WAIT_SECONDS, left), m.config.cancel_settle_seconds)


def _cancel_stops(m: Monitor, rows: list[Row], wait: float) -> bool:
    """Cancel the stops and follow each to the broker's final word for up to `wait` s. A
    stop that filled meanwhile is final too: its fill is booked, and the exit is sized on
    the books (never on the broker's positions, which lag that fill)."""
    all_final = True
    for row in rows:
        order = m.broker.get_order(row["alpaca_order_id"])
        if order is None:
            continue
        done = cancel_until_final(m.broker, order, settle_seconds=wait, sleep=m.sleep,
                                  max_poll=STOP_CANCEL_MAX_POLL)
        m.ledger.record_order(row, done.order)
        m.positions = None
        if not done.final:
            all_final = False
            alert(log, "exit_failed", f"trade #{row['trade_journal_id']}",
                  "trade #%s: the cancel of its stop %s is still %s after %.0f s (%s); the "
                  "stop still works at the broker, the exit follows once it is final",
                  row["trade_journal_id"], row["client_order_id"], done.order.status, wait,
                  done.refused or "no final word yet")
    return all_final


def _exits(trade: LoadedTrade, purpose: Purpose, statuses: set[str] | frozenset[str]
           ) -> list[Row]:
    return [r for r in trade.orders if r["order_role"] == OrderRole.EXIT.value
            and r["purpose"] == purpose.value and r["order_status"] in statuses]


def covered_by(trade: LoadedTrade, cancelled_ids: set[int]) -> Decimal:
    """Shares the stops just cancelled covered, as the broker last told us their size."""
    return sum((r["qty"] - (r["filled_qty"] or ZERO) for r in trade.orders
                if r["id"] in cancelled_ids and r["order_role"] == OrderRole.STOP_LOSS.value
                and r["order_status"] in WITHDRAWN_ORDER_STATUSES), ZERO)


def _exit_qty(m: Monitor, trade: LoadedTrade, cover: Decimal, whole_position: bool
              ) -> Decimal:
    """Our shares (books, or what the cancelled stop covered, whichever is more), capped by
    what the broker holds less what another exit of ours is already selling."""
    j = trade.journal
    ours = max(trade.state.position_qty, cover)
    held = lag_safe(m, j, broker_held(m, j) - _other_exits(m, trade), ours)
    if whole_position and not own_fill_since(m.db, j["symbol"],
                                             m.now() - m.config.reconcile_grace):
        ours = held
    return max(ZERO, min(held, ours))


def _other_exits(m: Monitor, trade: LoadedTrade) -> Decimal:
    rows = m.db.execute_query(QUERIES["working_exit_qty"], {
        "symbol": trade.journal["symbol"], "side": trade.state.exit_side,
        "trade": trade.state.journal_id, "live": list(LIVE)})
    return Decimal(rows[0]["qty"]) if rows else ZERO


def _unless_filled(m: Monitor, trade: LoadedTrade, row: Row, cover: Decimal, text: str
                   ) -> list[str]:
    """An end-of-day exit must be done before the close: one that rests is withdrawn (on
    the broker's final word) and the stop goes back at once; the next cycle tries again."""
    order = follow_exit(m, row)
    if order is not None and order.status == "filled":
        return []
    [fresh] = load_trades(m.db, [trade.state.journal_id])
    return _rested(m, fresh, [fresh.order_row(int(row["id"]))], text, cover)


def _rested(m: Monitor, trade: LoadedTrade, working: list[Row], text: str,
            cover: Decimal = ZERO) -> list[str]:
    """An exit of ours still working from an earlier attempt: withdraw it and protect."""
    sent = [r for r in working if r["alpaca_order_id"]]
    if not sent:
        return []  # an unsent intent: the settle step looks it up first
    if m.dry_run:
        m.would(f"withdraw the resting exit of {text} and put its stop back")
        return []
    if not cancel_orders(m, sent):
        return [f"{text}: its resting exit is being withdrawn"]
    [fresh] = load_trades(m.db, [trade.state.journal_id])
    return [f"{text}: the exit did not fill; withdrawn",
            *protect_again(m, fresh, cover, "its exit did not fill")]


def protect_again(m: Monitor, trade: LoadedTrade, cover: Decimal, why: str, *,
                  loud: bool = True) -> list[str]:
    """Put a stop back on every share the exit did not close: GTC, so a day trade that
    cannot be closed today is protected overnight too."""
    [trade] = load_trades(m.db, [trade.state.journal_id])
    j, t = trade.journal, trade.state
    m.positions = None  # an exit may have traded: read what the broker holds again
    ours = max(t.position_qty, cover)
    qty = min(lag_safe(m, j, broker_held(m, j) - _other_exits(m, trade), ours), ours)
    name = f"trade #{t.journal_id} {j['symbol']}"
    if qty <= 0:
        return settle_trade(m, trade)
    if t.planned_stop is None:
        alert(log, "unprotected", f"trade #{t.journal_id}",
              "%s: %s and it has no stop price to put back; %s shares unprotected",
              name, why, qty)
        return [f"{name}: NO STOP to put back for {qty} shares"]
    take = t.planned_take if t.trade_style == "SWING" else None
    rows = m.ledger.write_protection_intent(j, m.installation, qty=qty, stop=t.planned_stop,
                                            take=take, tif="gtc")
    order = _submit(m, j, rows)
    outcome = "accepted" if order is not None else "NOT accepted"
    if loud or order is None:
        alert(log, "exit_failed", f"trade #{t.journal_id}",
              "%s: %s; stop %s put back for %s shares, GTC (%s)",
              name, why, price_text(t.planned_stop), qty, outcome)
    else:
        log.info("%s: %s; stop %s put back for %s shares, GTC (%s)", name, why,
                 price_text(t.planned_stop), qty, outcome)
    return [f"{name}: stop {price_text(t.planned_stop)} put back for {qty}, gtc"
            + ("" if order is not None else ": NOT accepted")]
