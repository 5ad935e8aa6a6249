"""Our books against the broker: live stops, one entry per decision, orders that are real.
Pure: the broker's answers come in a BrokerView. Each check also has a part that needs no
broker, run with `--no-broker` as well."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from trading_monitor.broker.models import BrokerOrder
from trading_monitor.db.connection import Row
from trading_monitor.domain.lifecycle import LIVE_ORDER_STATUSES
from trading_monitor.domain.order_status import OrderStatus
from trading_monitor.domain.reconcile import STOP_TYPES, OpenOrder, stop_cover
from trading_monitor.domain.sides import Side
from trading_monitor.invariants.broker_view import (
    BrokerView,
    entry_pattern,
    known_as,
    stop_views,
    vouched_by_successor,
)
from trading_monitor.invariants.model import (
    VIOLATION,
    WARNING,
    ZERO,
    Books,
    Finding,
    Limits,
    trade_label,
)

# Statuses only the broker gives: an order row in one of them must carry the broker's id.
BROKER_STATUSES = LIVE_ORDER_STATUSES | {"filled", "replaced"}


@dataclass(frozen=True)
class _Held:
    trade: Row
    qty: Decimal
    partial_since: datetime | None = None  # first fill of a bracket entry still partial


def live_stop(books: Books, view: BrokerView, limits: Limits) -> list[Finding]:
    """Every POSITION trade's shares are covered by live stops in the broker's open orders
    (a held leg of a bracket whose entry is not complete covers nothing). Warnings, not
    violations: a bracket entry still partly filled inside its bounded window; shares a
    working exit of ours will close (a flatten waiting for the open), or a stop whose cancel
    is pending protects until its final word (the end-of-day flatten); a position the broker
    no longer holds, or holds in another quantity (reconciliation's). A position the broker
    holds on the other side of ours needs stops of its own."""
    found: list[Finding] = []
    views = stop_views(view.open_orders)
    broker_qty = {p.symbol: p.qty for p in view.positions}
    groups: dict[tuple[str, str], list[_Held]] = defaultdict(list)
    for t in books.trades:
        if t["status"] != "POSITION":
            continue
        row = books.position_by_trade.get(int(t["id"]))
        qty = row["qty"] if row is not None else t["actual_qty"] or ZERO
        if qty > 0:
            exit_side = Side.of(t["side"]).exit.value
            groups[(t["symbol"], exit_side)].append(_Held(t, qty, _partial(books, view, t)))
    for (symbol, exit_side), held in sorted(groups.items()):
        found += _cover(books, symbol, exit_side, held, views, broker_qty.get(symbol, ZERO),
                        limits)
    return found


def _theirs(books: Books, symbol: str, long: bool) -> Decimal:
    """The trader's own net position in `symbol` on our side, per the fills we stored."""
    net = sum((f["qty"] if f["side"] == "buy" else -f["qty"] for f in books.fills
               if f["symbol"] == symbol and f["trade_journal_id"] is None), ZERO)
    return max(net if long else -net, ZERO)


def _theirs_before(books: Books, symbol: str, long: bool, held: list[_Held]) -> Decimal:
    """The trader's own position on one side, from his fills before our trades' first fill
    (R4: those no fill of ours can have closed; a close by hand after it is ours)."""
    first = min((h.trade["first_fill_at"] for h in held if h.trade["first_fill_at"]),
                default=None)
    net = sum((f["qty"] if f["side"] == "buy" else -f["qty"] for f in books.fills
               if f["symbol"] == symbol and f["trade_journal_id"] is None
               and first is not None and f["filled_at"] < first), ZERO)
    return max(net if long else -net, ZERO)


def _partial(books: Books, view: BrokerView, t: Row) -> datetime | None:
    entry = books.latest_entry(t)
    order = view.open_by_id.get(entry["alpaca_order_id"] or "") if entry else None
    if order is None or not order.legs or not 0 < order.filled_qty < order.qty:
        return None
    since: datetime | None = t["first_fill_at"] or t["entry_date"] or order.filled_at
    return since


def _cover(books: Books, symbol: str, exit_side: str, held: list[_Held],
           views: dict[str, OpenOrder], broker_qty: Decimal, limits: Limits) -> list[Finding]:
    ours = sum((h.qty for h in held), ZERO)
    long = exit_side == "sell"
    side = "long" if long else "short"

    def each(severity: str, text: str, group: list[_Held], detail: Mapping[str, object]
             ) -> list[Finding]:
        return [Finding("live_stop", severity, f"{trade_label(h.trade)}: {text}",
                        trade_id=int(h.trade["id"]), decision_id=h.trade["initial_analysis_id"],
                        detail=dict(detail)) for h in group]

    if broker_qty == 0:
        return each(WARNING, f"we hold {ours} {side}, the broker none: no stop needed, "
                             "reconciliation closes it", held,
                    {"ours": str(ours), "broker": str(broker_qty)})
    if (broker_qty > 0) != long:
        return _flipped(symbol, broker_qty, views, held, each,
                        _theirs_before(books, symbol, not long, held))
    found = []
    if abs(broker_qty) != ours:
        found += each(WARNING, f"we hold {ours} {side}, the broker {abs(broker_qty)} "
                               "(reconciliation's QTY_MISMATCH)", held,
                      {"ours": str(ours), "broker": str(broker_qty)})
    # Shares of the trader's own (fills no trade of ours explains) are his to protect: only
    # what the broker holds beyond them may be ours (a split our books never learnt). Our
    # books holding more than the broker (a partial close by hand not booked yet) ask cover
    # only for what the broker holds: no order can hold more (the mismatch is warned above).
    need = max(min(ours, abs(broker_qty)), abs(broker_qty) - _theirs(books, symbol, long))
    cover = stop_cover(list(views.values()), symbol, exit_side)
    if cover >= need:
        return found
    stops = [f"{_name(books, broker_id, v)} {v.status}"
             + ("" if v.parent_filled else ": a leg of an entry not filled completely")
             for broker_id, v in views.items() if v.symbol == symbol and v.side == exit_side
             and v.order_type in STOP_TYPES and OrderStatus(v.status).protects]
    detail = {"position": str(need), "stop_cover": str(cover), "stops": stops}
    window = [h for h in held if h.partial_since is not None
              and limits.now - h.partial_since < limits.bracket_window]
    found += each(WARNING, f"bracket entry still partly filled (since {_time(window)}): its "
                           "legs are held until it completes, the order monitor protects the "
                           "filled shares within its window", window, detail)
    rest = [h for h in held if h not in window]
    short_of = need - sum((h.qty for h in window), ZERO) - cover
    if not rest or short_of <= 0:
        return found
    text = f"{need} shares {side} at the broker, live stops cover {cover}" + (
        f" ({'; '.join(stops)})" if stops else " (no live stop)")
    closing = sum((v.qty - v.filled_qty for broker_id, v in views.items()
                   if v.symbol == symbol and v.side == exit_side
                   and OrderStatus(v.status).may_fill
                   and (v.order_type == "market" or books.order_by_alpaca.get(
                       broker_id, {}).get("order_role") == "EXIT")), ZERO)
    if closing >= short_of:  # an exit of ours is working (a flatten waiting for the open)
        return found + each(WARNING, f"{text}; an exit for {closing} is working", rest,
                            {**detail, "market_exit": str(closing)})
    # A stop whose cancel is pending still works at the broker until the cancel's final word
    # (it fills if its price trades; Alpaca takes no other order for its shares): the
    # end-of-day flatten follows it and sends the exit then (docs/order-monitor.md).
    cancelling = sum((v.qty - v.filled_qty for v in views.values() if v.symbol == symbol
                      and v.side == exit_side and v.order_type in STOP_TYPES
                      and v.status == "pending_cancel" and v.parent_filled), ZERO)
    if cancelling >= short_of:
        return found + each(WARNING, f"{text}; a stop for {cancelling} whose cancel is pending "
                                     "protects until the broker's final word", rest,
                            {**detail, "cancel_pending": str(cancelling)})
    return found + each(VIOLATION, text, rest, detail)


def _flipped(symbol: str, broker_qty: Decimal, views: dict[str, OpenOrder], held: list[_Held],
             each: Callable[..., list[Finding]], own: Decimal) -> list[Finding]:
    """The broker holds the other side (an exit that sold more than we held): that position
    needs its own stops, on its own exit side — unless it is the trader's own (`own`: his
    shares on that side from before our fills), which are his to protect."""
    its_exit = "buy" if broker_qty < 0 else "sell"
    cover = stop_cover(list(views.values()), symbol, its_exit)
    theirs = "short" if broker_qty < 0 else "long"
    detail = {"broker": str(broker_qty), "stop_cover": str(cover), "traders_own": str(own)}
    if abs(broker_qty) <= own:
        return each(WARNING, f"the broker holds {abs(broker_qty)} {theirs}, the other side of "
                             f"ours: the trader's own {own} from before our fills net ours "
                             "away (reconciliation's QTY_MISMATCH)", held, detail)
    if cover >= abs(broker_qty):
        return each(WARNING, f"the broker holds {abs(broker_qty)} {theirs}, the other side of "
                             "ours (reconciliation's QTY_MISMATCH); its stops cover it", held,
                    detail)
    return each(VIOLATION, f"the broker holds {abs(broker_qty)} {symbol} {theirs}, the other "
                           f"side of ours, and live stops cover {cover} of it", held, detail)


def _name(books: Books, broker_id: str, v: OpenOrder) -> str:
    """Our client order id for the order (a leg's at the broker is the broker's own)."""
    row = books.order_by_alpaca.get(broker_id)
    return str(row["client_order_id"]) if row else v.client_order_id


def _time(held: list[_Held]) -> str:
    return ", ".join(str(h.partial_since) for h in held)


def single_entry(books: Books, view: BrokerView | None, limits: Limits) -> list[Finding]:
    """At most one entry order per decision: in our rows (entry rows sent to the broker),
    and at the broker (every order since our first, grouped by our entry client order id;
    a replaced order lives on as its successor and a rejected one never traded). An entry
    of ours at the broker that no row records is a violation too."""
    found: list[Finding] = []
    sent: dict[int, list[Row]] = defaultdict(list)
    for r in books.orders:
        if r["order_role"] == "ENTRY" and r["alpaca_order_id"] and r["analysis_decision_id"]:
            sent[int(r["analysis_decision_id"])].append(r)
    for decision, rows in sorted(sent.items()):
        if len({r["alpaca_order_id"] for r in rows}) > 1:
            names = ", ".join(f"{r['client_order_id']} ({r['order_status']})" for r in rows)
            found.append(Finding("single_entry", VIOLATION,
                                 f"decision #{decision} has {len(rows)} entry rows sent to the "
                                 f"broker: {names}", decision_id=decision,
                                 trade_id=rows[0]["trade_journal_id"],
                                 client_order_id=rows[-1]["client_order_id"]))
    if view is None:
        return found
    pattern = entry_pattern(books.installation)
    at_broker: dict[int, list[BrokerOrder]] = defaultdict(list)
    for b in view.order_by_id.values():
        match = pattern.match(b.client_order_id)
        if match and b.status not in ("replaced", "rejected"):
            at_broker[int(match.group(1))].append(b)
    known = set(books.order_by_client) | {r["client_order_id"] for r in view.late_rows}
    for decision, orders in sorted(at_broker.items()):
        orders.sort(key=lambda o: o.client_order_id)
        row = books.order_by_client.get(orders[0].client_order_id, {})
        names = ", ".join(f"{o.client_order_id} ({o.status})" for o in orders)
        if len(orders) > 1:
            found.append(Finding("single_entry", VIOLATION,
                                 f"decision #{decision} has {len(orders)} entry orders at the "
                                 f"broker: {names}", decision_id=decision,
                                 trade_id=row.get("trade_journal_id"),
                                 client_order_id=orders[-1].client_order_id))
        for o in orders:
            if o.client_order_id not in known:
                found.append(Finding("single_entry", VIOLATION,
                                     f"entry {o.client_order_id} ({o.status}, {o.qty} "
                                     f"{o.symbol}) is at the broker but no order row of ours "
                                     "records it", decision_id=decision,
                                     client_order_id=o.client_order_id))
    return found


def orders_are_real(books: Books, view: BrokerView | None, limits: Limits) -> list[Finding]:
    """An order row in a status only the broker gives carries the broker's id; with the
    broker read, every row with a broker id is an order the broker has, under our client
    order id (a leg's client id is the broker's own; rows sent before `--since` are not
    looked at)."""
    found: list[Finding] = []
    for o in books.orders:
        if o["order_status"] in BROKER_STATUSES and not o["alpaca_order_id"]:
            found.append(_order_finding(books, o, f"is {o['order_status']} in our books but "
                                                  "carries no broker order id"))
    if view is None:
        return found
    if view.unverified:
        first = ", ".join(view.unverified[:5]) + (" …" if len(view.unverified) > 5 else "")
        found.append(Finding("orders_are_real", WARNING,
                             f"{len(view.unverified)} order rows not verified at the broker: "
                             f"missing from its listing, past the look-up cap ({first})",
                             client_order_id=view.unverified[0],
                             detail={"unverified": view.unverified}))
    for o in books.orders:
        if not o["alpaca_order_id"] or o["client_order_id"] in view.unverified:
            continue
        if view.since is not None and o["submitted_at"] is not None \
                and o["submitted_at"] < view.since:
            continue
        order = view.order_by_id.get(o["alpaca_order_id"])
        if order is None and vouched_by_successor(books, set(view.order_by_id), o):
            continue
        if order is None:
            found.append(_order_finding(books, o, f"has broker id {o['alpaca_order_id']}, "
                                                  "which the broker does not know"))
        elif not known_as(view, order, o["client_order_id"]):
            found.append(_order_finding(books, o, f"is {order.client_order_id} at the broker "
                                                  f"(broker id {order.id})"))
    return found


def _order_finding(books: Books, o: Row, text: str) -> Finding:
    trade = books.trade_by_id.get(int(o["trade_journal_id"] or 0))
    owner = trade_label(trade) if trade else f"decision #{o['analysis_decision_id']}"
    return Finding("orders_are_real", VIOLATION,
                   f"order {o['client_order_id']} (row #{o['id']}, {owner}) {text}",
                   trade_id=o["trade_journal_id"], decision_id=o["analysis_decision_id"],
                   client_order_id=o["client_order_id"])
