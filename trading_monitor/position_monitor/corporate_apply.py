"""Splits and symbol changes applied to our trades when the broker shows them, and the
protection re-priced at the broker (docs/position-monitor.md, "Corporate actions").

Every position-monitor cycle (the pre-open run included) looks at the stored announcements
due by today, with no broker request of its own: an action is applied to the trades entered
before its ex-date once the broker's position shows the new quantity (under the new symbol,
if any), so the books are right whether Alpaca has applied it yet or not. Then each live stop
and target of an adjusted trade is brought to its split-adjusted price: already there at the
broker (Alpaca adjusted it, maybe as a `replaced` order the sync followed), or PATCHed, the
intent written first. Until the broker lists every one at its new price the adjustment stays
open and is looked at again each cycle: no stop is left at a pre-split price.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal

from trading_monitor.broker.models import BrokerOrder, BrokerPosition
from trading_monitor.db.connection import Row
from trading_monitor.db.queries import Queries
from trading_monitor.domain.corporate import LOOK_BACK, Announcement, from_row, split_qty
from trading_monitor.domain.lifecycle import OrderRole
from trading_monitor.domain.market_time import NEW_YORK as NEW_YORK  # corporate_missed
from trading_monitor.domain.market_time import new_york_date, new_york_time
from trading_monitor.domain.order_status import OrderStatus
from trading_monitor.engine.cancelling import cancel_until_final, follow_replacements, is_final
from trading_monitor.engine.settle import settle_trade
from trading_monitor.engine.state import LoadedTrade, load_trades, open_trades
from trading_monitor.exceptions import RejectedError, TemporaryError
from trading_monitor.ledger.splits import Adjustment, CorporateBooks
from trading_monitor.position_monitor.context import PositionMonitor
from trading_monitor.position_monitor.corporate_cash import cash_price, last_mark
from trading_monitor.position_monitor.corporate_cashout import close_cashed_out

QUERIES = Queries(__name__)

log = logging.getLogger(__name__)
CONFIRMED = ("new", "held", "accepted")
ZERO = Decimal(0)


def ex_moment(day: date) -> datetime:
    """Fills before the ex-date's midnight in New York are pre-split."""
    return new_york_time(day)


announcement = from_row  # corporate_ending, corporate_missed


def apply_due_actions(pm: PositionMonitor, positions: list[BrokerPosition],
                      open_orders: dict[str, BrokerOrder]) -> list[str]:
    """Apply what is due and re-price what was applied; DB reads only, unless there is
    something to do."""
    m = pm.orders
    if m.dry_run:
        return []
    books = CorporateBooks(m.db, m.run_id, m.now)
    today = new_york_date(m.now())
    due = [announcement(r) for r in books.actions_between(today - LOOK_BACK, today)]
    due = [a for a in due if a.adjusts]
    done: list[str] = []
    touched: set[int] = set()
    if due:
        every = open_trades(m)
        trades = [t for t in every if t.state.status.value == "POSITION"]
        held = {p.symbol: p for p in positions}
        for a in due:
            done += _apply(pm, books, a, trades, held, touched)
        done += close_cashed_out(pm, touched)  # a split that paid a whole trade in cash
        done += _withdraw_entries(pm, [a for a in due if a.effective == today], every)
    done += _reprice(pm, books, open_orders, touched)
    return done


def _apply(pm: PositionMonitor, books: CorporateBooks, a: Announcement,
           trades: list[LoadedTrade], held: dict[str, BrokerPosition],
           touched: set[int]) -> list[str]:
    since = ex_moment(a.effective)
    applied = {int(r["trade_journal_id"]) for r in pm.orders.db.execute_query(
        QUERIES["corporate_trades_applied"], [a.id])}
    mine = [t for t in trades if t.journal["symbol"] == a.symbol
            and t.state.journal_id not in applied and t.journal["entry_date"] is not None
            and t.journal["entry_date"] < since]
    if not mine:
        return []
    parts = [before_and_since(t, since) for t in mine]
    before = sum((pre for pre, _ in parts), ZERO)
    later = sum((post for _, post in parts), ZERO)  # traded since the split, in new shares
    where = a.new_symbol if a.renames and a.new_symbol else a.symbol
    pos = held.get(where)
    now_qty = abs(pos.qty) if pos is not None else ZERO
    split_left = now_qty - later  # what the split left of the shares held before it
    exact = a.scale(before)
    whole, _ = split_qty(exact)
    if a.renames and a.symbol in held:
        return []  # the old symbol is still held: not applied at the broker yet
    if split_left not in (exact, whole) or (
            a.ratio != 1 and split_left == before and not a.renames):
        if split_left != before:
            log.warning("%s: the broker holds %s %s, neither %s nor %s: left to reconciliation",
                        a.describe(), now_qty, where, before + later, exact + later)
        return []
    cash = exact - split_left
    mark = pos.current_price if pos is not None else last_mark(mine, a.ratio)
    price, activity_id, estimated = cash_price(pm, a, cash, mark, since)
    shares = [a.scale(pre) for pre, _ in parts]
    afters = whole_shares(shares, split_left) if cash > 0 else shares
    done = []
    for t, (pre, post), share, after in zip(mine, parts, shares, afters, strict=True):
        paid = share - after  # < 0: a fraction another trade of ours gave up
        adj = Adjustment(action=a, qty_before=pre, qty_after=after, qty_since=post,
                         since=since, cash_qty=paid, cash_price=price,
                         cash_activity_id=activity_id, cash_estimated=estimated)
        if books.apply_adjustment(t.journal, t.position, adj):
            touched.add(t.state.journal_id)
            done.append(f"trade #{t.state.journal_id} {a.describe()}: books adjusted, "
                        f"{adj.qty_before} → {adj.qty_after} {where}"
                        + (f", cash in lieu of {paid} at {price}" if paid and price else ""))
    return done


def before_and_since(t: LoadedTrade, since: datetime) -> tuple[Decimal, Decimal]:
    """The trade's shares from its fills before the split (old shares) and its net shares
    traded since (new shares): a stop that filled at the open after the split, before this
    cycle, is in new shares and is not restated."""
    pre = t.state.adopted[0] if t.state.adopted is not None else ZERO
    post = ZERO
    for f in t.state.fills:
        signed = f.qty if f.role is OrderRole.ENTRY else -f.qty
        if f.at < since:
            pre += signed
        else:
            post += signed
    return pre, post


def whole_shares(shares: list[Decimal], whole: Decimal) -> list[Decimal]:
    """Whole shares per trade summing to the `whole` the broker holds (it rounds the position,
    not each trade): each trade's shares rounded down, the whole shares left over to the
    largest fractions. A trade given more than its exact share bought that fraction from
    another trade at the cash-in-lieu price (ledger/splits.py)."""
    out = [split_qty(s)[0] for s in shares]
    left = int(whole - sum(out, ZERO))
    for i in sorted(range(len(shares)), key=lambda i: (out[i] - shares[i], i))[:max(left, 0)]:
        out[i] += 1
    return out


def _withdraw_entries(pm: PositionMonitor, today: list[Announcement],
                      trades: list[LoadedTrade]) -> list[str]:
    """An entry still working in a symbol a split or symbol change reaches today is
    withdrawn, on the broker's final word: a bracket entry keeps its pre-split limit and legs
    (DNR/DNC), so after a forward split it would buy at once and its stop fire. The trade
    ends CANCELLED through the order monitor's usual path."""
    m, done = pm.orders, []
    symbols = {s for a in today for s in (a.symbol, a.new_symbol) if s}
    for t in trades:
        entry = t.state.entry
        if t.state.status.value != "PENDING" or t.journal["symbol"] not in symbols or \
                entry is None or not entry.at_broker or not entry.alpaca_order_id:
            continue
        order = m.broker.get_order(entry.alpaca_order_id)
        if order is None or is_final(order):
            continue
        result = cancel_until_final(m.broker, order, sleep=m.sleep,
                                    settle_seconds=m.config.cancel_settle_seconds)
        m.ledger.record_order(t.order_row(entry.row_id), result.order)
        done.append(f"trade #{t.state.journal_id} {t.journal['symbol']}: entry "
                    f"{entry.client_order_id} withdrawn (a corporate action today): "
                    f"{result.order.status} {result.refused}".rstrip())
    return done


# -- protection at the broker ---------------------------------------------------------------


def _reprice(pm: PositionMonitor, books: CorporateBooks, listed: dict[str, BrokerOrder],
             touched: set[int]) -> list[str]:
    open_rows = books.adjustments_to_reprice()
    if not open_rows:
        return []
    m = pm.orders
    by_trade: dict[int, list[Row]] = defaultdict(list)
    for row in open_rows:
        by_trade[int(row["trade_journal_id"])].append(row)
    done: list[str] = []
    for trade in load_trades(m.db, list(by_trade)):
        jid = trade.state.journal_id
        if trade.state.status.value != "POSITION":
            for row in by_trade[jid]:
                books.mark_repriced(row, f"trade #{jid} is {trade.state.status.value}: "
                                         "nothing to re-price")
            continue
        pending = _reprice_trade(pm, books, trade, listed, done)
        if not pending:
            for row in by_trade[jid]:
                books.mark_repriced(row, f"trade #{jid}: every live exit at the broker is at "
                                         "its split-adjusted price")
        if jid in touched or not pending:
            [fresh] = load_trades(m.db, [jid])
            done += settle_trade(m, fresh)  # a stop for fewer shares than held is resized
    return done


def _wanted(trade: LoadedTrade, row: Row) -> tuple[Decimal | None, Decimal | None] | None:
    """(stop, limit) the order should carry now, or None if it is not ours to re-price."""
    j = trade.journal
    if row["order_role"] == OrderRole.STOP_LOSS.value and row["order_type"] == "stop":
        return j["planned_stop_loss"], None
    if row["order_role"] == OrderRole.TAKE_PROFIT.value and row["order_type"] == "limit":
        return None, j["planned_take_profit"]
    return None


def _reprice_trade(pm: PositionMonitor, books: CorporateBooks, trade: LoadedTrade,
                   listed: dict[str, BrokerOrder], done: list[str]) -> bool:
    """True while some live exit is not (yet) at its new price at the broker."""
    pending = False
    for row in trade.orders:
        status = OrderStatus(row["order_status"])
        wanted = _wanted(trade, row)
        if wanted is None or not status.at_broker or not row["alpaca_order_id"]:
            continue
        if row["order_status"] == "pending_submit":
            pending = True
            continue
        stop, limit = wanted
        order = listed.get(row["alpaca_order_id"])
        if order is None:
            pending = True  # not listed open this cycle: its final word comes with the sync
            continue
        held = trade.state.position_qty
        # Not more shares than held (legs left at a reverse split's old quantity would sell
        # short), nor fewer (a forward split's legs left alone protect half).
        qty = held if held == held.to_integral_value() and order.qty != held else None
        stop = stop if stop is not None and order.stop_price != stop else None
        limit = limit if limit is not None and order.limit_price != limit else None
        if qty is None and stop is None and limit is None:
            books.set_prices(row, order.stop_price, order.limit_price)
            continue
        if status.settling:
            pending = True
            continue
        new = _patch(pm, books, trade, row, order, qty, stop, limit)
        text = (f"trade #{trade.state.journal_id} {trade.journal['symbol']}: "
                f"{row['client_order_id']} re-priced after the split: {order.qty} → "
                f"{qty or order.qty} shares, stop {order.stop_price} → {stop or order.stop_price}"
                f", limit {order.limit_price} → {limit or order.limit_price}")
        if new is None or new.status not in CONFIRMED:
            pending = True
            done.append(text + (": refused, the old order stays; retried next cycle"
                                if new is None else f": {new.status}, checked next cycle"))
        else:
            done.append(text)
    return pending


def _patch(pm: PositionMonitor, books: CorporateBooks, trade: LoadedTrade, old: Row,
           order: BrokerOrder, qty: Decimal | None, stop: Decimal | None,
           limit: Decimal | None) -> BrokerOrder | None:
    """PATCH only what changes (None: kept as the broker holds it)."""
    m = pm.orders
    row = books.write_reprice_intent(trade.journal, m.installation, old, qty=qty or order.qty,
                                     stop_price=stop or order.stop_price,
                                     limit_price=limit or order.limit_price)
    try:
        new = m.broker.replace_order(old["alpaca_order_id"], qty=qty, stop_price=stop,
                                     limit_price=limit, client_order_id=row["client_order_id"])
    except (RejectedError, TemporaryError) as exc:
        found = follow_replacements(m.broker, m.broker.get_order_by_client_id(
            row["client_order_id"]))
        if found is None:
            m.ledger.mark_orders([row], "not_sent", f"re-price refused: {exc}")
            log.warning("re-price of %s after a split refused, the old order stays: %s",
                        old["client_order_id"], exc)
            return None
        new = found
    m.ledger.record_order(row, new)
    old_now = m.broker.get_order(old["alpaca_order_id"])
    if old_now is not None:
        m.ledger.record_order(old, old_now)
    return new
