"""`trading-monitor validate-paper [--symbol SPY]`: prove a paper account serves every broker
call the jobs make, before the daemon is trusted with it.

Checks, in order: the account, positions, clock, calendar, the asset, the latest trade and a
snapshot (market data), fill activities, the trade_updates stream connecting; then one buy
limit order of 1 share at half the last price (it cannot fill) with a client order id of ours
(`tmv-...`: no installation's `tm-` prefix, so no job ever adopts it), read back by that id,
found in the open-orders list, cancelled, and the cancel confirmed by the broker's final word
(`canceled`) and seen on the stream. The order is cancelled whatever else fails.

Refuses live trading (ALPACA_PAPER=false) whatever else is set. Prints one line per check,
never a key. Exit codes: 0 every check passed; 1 a check failed; 2 configuration (or live).
"""

from __future__ import annotations

import argparse
import secrets
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import TypeVar
from urllib.parse import urlparse

from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.models import BrokerOrder, OrderRequest, TradeEvent
from trading_monitor.broker.stream import TradeUpdateStream
from trading_monitor.cli.common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_OK,
    handles_errors,
    setup_logging,
)
from trading_monitor.cli.validate_shapes import run_shapes
from trading_monitor.clock import Clock, job_clock, system_clock
from trading_monitor.domain.market_time import NEW_YORK, new_york_date
from trading_monitor.engine.cancelling import cancel_until_final
from trading_monitor.settings.config import Settings, load_settings

T = TypeVar("T")


@dataclass
class Checklist:
    """Each check's pass/fail line; a failing check never stops the ones after it."""

    secrets: tuple[str, ...] = ()
    lines: list[tuple[str, bool, str]] = field(default_factory=list)

    def run(self, name: str, fn: Callable[[], T], describe: Callable[[T], str]) -> T | None:
        try:
            value = fn()
            self.lines.append((name, True, describe(value)))
            return value
        except Exception as exc:  # every failure is a line of the checklist, not a traceback
            self.fail(name, f"{type(exc).__name__}: {exc}")
            return None

    def fail(self, name: str, detail: str) -> None:
        self.lines.append((name, False, detail))

    def render(self) -> str:
        width = max(len(name) for name, _, _ in self.lines)
        rows = [f"[{'PASS' if ok else 'FAIL'}] {name:<{width}}  {self._clean(detail)}"
                for name, ok, detail in self.lines]
        failed = sum(1 for _, ok, _ in self.lines if not ok)
        rows.append(f"{len(self.lines) - failed} passed, {failed} failed")
        return "\n".join(rows)

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _ in self.lines)

    def _clean(self, text: str) -> str:
        # Broker errors never carry our keys, but a checklist gets pasted into tickets.
        text = " ".join(str(text).split())
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


class StreamWatch:
    """The trade_updates stream, remembering whether it connected and what our order saw."""

    def __init__(self, settings: Settings) -> None:
        self.connected = threading.Event()
        self.events: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self.stream = TradeUpdateStream(settings, self._event, self.connected.set)

    def _event(self, event: TradeEvent) -> None:
        with self._lock:
            self.events.setdefault(event.order.client_order_id, []).append(event.event)

    def seen(self, client_order_id: str) -> list[str]:
        with self._lock:
            return list(self.events.get(client_order_id, []))


def far_limit(price: Decimal) -> Decimal:
    """Half the last price, whole cents (at least 1.00): a buy there does not fill."""
    return max((price / 2).quantize(Decimal("0.01"), rounding=ROUND_DOWN), Decimal("1.00"))


def validation_order_id(now: datetime) -> str:
    return f"tmv-{now:%Y%m%d%H%M%S}-{secrets.token_hex(4)}"


def _reads(c: Checklist, broker: AlpacaBroker, settings: Settings, symbol: str,
           now: datetime) -> Decimal | None:
    """Every read the jobs use; returns the symbol's last price, if the market data gave one."""
    c.run("account", broker.get_account, lambda a: (
        _raise("the account is blocked from trading") if a.trading_blocked or a.account_blocked
        else f"status {a.status}, equity {a.equity}, buying power {a.buying_power}"))
    c.run("positions", broker.get_positions, lambda ps: f"{len(ps)} open")
    c.run("clock", broker.get_clock, lambda k: (
        f"market {'open' if k.is_open else 'closed'}, next open {_ny(k.next_open)}, "
        f"next close {_ny(k.next_close)} New York"))
    today = new_york_date(now)
    c.run("calendar", lambda: broker.get_calendar(today, today + timedelta(days=10)),
          lambda days: f"{len(days)} sessions in the next 10 days" if days
          else _raise("no trading session in the next 10 days"))
    c.run("asset", lambda: broker.get_asset(symbol), lambda a: (
        _raise(f"{symbol} is unknown to the broker") if a is None
        else _raise(a.problem()) if a.problem() else f"{symbol} active and tradable"))
    prices = c.run("latest trade", lambda: broker.latest_prices([symbol]), lambda p: (
        f"{symbol} last {p[symbol]}" if symbol in p else _raise(f"no trade for {symbol}")))
    feed = settings.alpaca_data_feed.value
    snaps = c.run("snapshot", lambda: broker.market_snapshots([symbol], feed), lambda s: (
        f"{symbol} on the {feed} feed" if symbol in s else _raise(f"no snapshot of {symbol}")))
    c.run("fill activities", lambda: broker.fill_activities(now - timedelta(days=7)),
          lambda fills: f"{len(fills)} in the last 7 days")
    if prices and symbol in prices:
        return prices[symbol]
    last = snaps[symbol].last_price if snaps and symbol in snaps else None
    return Decimal(last) if last else None


def _ny(moment: datetime) -> str:
    return f"{moment.astimezone(NEW_YORK):%Y-%m-%d %H:%M}"


def _raise(message: str | None) -> str:
    raise RuntimeError(message)


def _stream_connect(c: Checklist, watch: StreamWatch, wait_seconds: float) -> None:
    try:
        watch.stream.start()
    except Exception as exc:  # a line of the checklist, like every other failure
        c.fail("stream connect", f"{type(exc).__name__}: {exc}")
        return
    if watch.connected.wait(wait_seconds):
        c.lines.append(("stream connect", True, "trade_updates authorized and subscribed"))
    else:
        c.fail("stream connect", f"not subscribed to trade_updates within {wait_seconds:g} s")


def _order_round_trip(c: Checklist, broker: AlpacaBroker, settings: Settings, symbol: str,
                      price: Decimal | None, now: datetime, watch: StreamWatch,
                      sleep: Callable[[float], None]) -> None:
    if price is None:
        c.fail("order placed", "not placed: no market price to place it far from")
        return
    coid = validation_order_id(now)
    request = OrderRequest(client_order_id=coid, symbol=symbol, side="buy", qty=Decimal(1),
                           order_type="limit", time_in_force="day", limit_price=far_limit(price))
    placed: BrokerOrder | None = None
    cancelled = False
    try:
        placed = c.run("order placed", lambda: broker.submit_order(request), lambda o: (
            f"buy 1 {symbol} limit {request.limit_price} day, {coid}: {o.status}"))
        c.run("order by client id", lambda: broker.get_order_by_client_id(coid), lambda o: (
            _raise(f"{coid} not found") if o is None else f"{coid} is {o.status}"))
        c.run("open orders list", broker.list_open_orders, lambda orders: (
            f"{len(orders)} open, ours among them" if any(o.client_order_id == coid
                                                         for o in orders)
            else _raise(f"{len(orders)} open, {coid} not among them")))
    finally:
        cancelled = _cancel(c, broker, settings, coid, placed, sleep)
    if cancelled:
        _stream_events(c, watch, coid, sleep)
    else:
        c.fail("stream events", f"{coid}: not cancelled, so no canceled event to wait for")


def _cancel(c: Checklist, broker: AlpacaBroker, settings: Settings, coid: str,
            placed: BrokerOrder | None, sleep: Callable[[float], None]) -> bool:
    """Cancel the order, found by our id when the submit's answer was lost, until final;
    whether the broker's final word is `canceled`."""
    order = placed or c.run("order lookup", lambda: broker.get_order_by_client_id(coid),
                            lambda o: f"{coid}: {o.status if o else 'never reached the broker'}")
    if order is None:
        return False
    settle = max(settings.cancel_settle_seconds, 10.0)
    done = c.run("order cancelled", lambda: cancel_until_final(
        broker, order, settle_seconds=settle, sleep=sleep), lambda r: (
        f"{coid}: the broker's final word is canceled" if r.order.status == "canceled"
        else _raise(f"{coid} FILLED {r.order.filled_qty}: close it by hand")
        if r.order.filled_qty else _raise(f"{coid} is {r.order.status} after {settle:g} s"
                                          f"{'; ' + r.refused if r.refused else ''}")))
    if done is None:
        print(f"trading-monitor: WARNING: {coid} may still be live; cancel it at the broker",
              file=sys.stderr)
    return done is not None


def _stream_events(c: Checklist, watch: StreamWatch, coid: str,
                   sleep: Callable[[float], None], wait_seconds: float = 10.0) -> None:
    if not watch.connected.is_set():
        c.fail("stream events", "the stream never connected")
        return
    waited = 0.0
    while "canceled" not in watch.seen(coid) and waited < wait_seconds:
        sleep(0.1)
        waited += 0.1
    events = watch.seen(coid)
    if "canceled" in events:
        c.lines.append(("stream events", True, f"{coid}: {', '.join(events)}"))
    else:
        c.fail("stream events", f"{coid}: no canceled event within {wait_seconds:g} s "
                                f"(saw {', '.join(events) or 'nothing'})")


def validate(settings: Settings, symbol: str, *, stream_seconds: float = 15.0,
             clock: Clock | None = None, sleep: Callable[[float], None] = time.sleep
             ) -> Checklist:
    keys = tuple(k.get_secret_value() for k in (settings.alpaca_api_key,
                                                 settings.alpaca_secret_key) if k)
    c = Checklist(secrets=keys)
    host = urlparse(settings.alpaca_base_url or "https://paper-api.alpaca.markets").hostname
    c.lines.append(("paper mode", True, f"ALPACA_PAPER=true, trading API at {host}"))
    broker = AlpacaBroker(settings)
    now = c.run("broker time", lambda: (clock or job_clock(settings.clock_source.value,
                                                           broker))(),
                lambda t: f"{_ny(t)} New York ({settings.clock_source.value} clock)")
    if now is None:  # the broker's time is unreadable: its dates then follow the machine's
        now = system_clock()
    price = _reads(c, broker, settings, symbol, now)
    watch = StreamWatch(settings)
    try:
        _stream_connect(c, watch, stream_seconds)
        _order_round_trip(c, broker, settings, symbol, price, now, watch, sleep)
    finally:
        watch.stream.stop()
    return c


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trading-monitor validate-paper", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--symbol", default="SPY", help="the symbol of the test order "
                                                        "(default SPY)")
    parser.add_argument("--stream-seconds", type=float, default=15.0,
                        help="how long to wait for the stream to connect (default 15)")
    parser.add_argument("--shapes", action="store_true",
                        help="only read: print the fields we need that the broker's bodies "
                             "lack and the values we do not know (no order; live allowed)")
    return parser


@handles_errors
def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging("ERROR")
    settings = load_settings(need_broker=True)
    if args.shapes:
        return run_shapes(settings, args.symbol.strip().upper(), system_clock().date())
    if settings.is_live:
        print("trading-monitor: validate-paper refuses live trading: it places an order; "
              "set ALPACA_PAPER=true and paper keys", file=sys.stderr)
        return EXIT_CONFIG
    checklist = validate(settings, args.symbol.strip().upper(),
                         stream_seconds=args.stream_seconds)
    print(checklist.render())
    return EXIT_OK if checklist.ok else EXIT_FAILED

