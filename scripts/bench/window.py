"""Measurement 4: the unprotected window, from an entry's fill to a stop accepted at the
broker: staged entries with the stream and with polling only (beside the seed's pass), and
bracket entries filled in part."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from functools import partial

from trading_monitor.db.connection import TradingDB
from trading_monitor.order_monitor.listener import OrderStreamListener
from trading_monitor.order_monitor.service import monitor_once

from .book import build_book
from .costs import pct
from .lab import POLL_SECONDS, PRICE, SYMBOLS, Exchange, Lab, settings_for, unlimited_broker


@dataclass
class Window:
    n: int
    mode: str
    samples: list[float]  # seconds
    unit: str = "s wall"
    note: str = ""
    polled: bool = False  # the wait for the next 5-minute cycle comes on top of each sample

    def distribution(self) -> list[float]:
        """The samples; polled, each one after every wait the schedule can impose: a fill
        lands uniformly in the interval, so the wait for the next cycle is uniform on
        [0, 300 s), taken on an even grid."""
        if not self.polled:
            return self.samples
        return [wait + x for wait in WAIT_GRID for x in self.samples]

    def figures(self) -> tuple[float, float, float]:
        spread = self.distribution()
        top = max(self.samples) + (POLL_SECONDS if self.polled else 0)
        return pct(spread, 50), pct(spread, 99), top


WAIT_GRID = [(k + 0.5) * POLL_SECONDS / 600 for k in range(600)]


def _journal_of(db: TradingDB, decision_id: int) -> int:
    [row] = db.execute_query("SELECT existing_trade_journal_id AS j FROM analysis_decision "
                             "WHERE id = %s", [decision_id])
    return int(row["j"])


def _protected(db: TradingDB, journal_id: int) -> bool:
    [row] = db.execute_query("SELECT protected_at FROM trade_journal WHERE id = %s",
                             [journal_id])
    return row["protected_at"] is not None


def _finished_syncs(db: TradingDB) -> int:
    [row] = db.execute_query("SELECT count(*) AS n FROM job_run WHERE job_name = "
                             "'order_monitor' AND finished_at IS NOT NULL")
    return int(row["n"])


def _wait_for_sync_after_connect(db: TradingDB, listener: OrderStreamListener,
                                 before: int) -> None:
    """Connected, and the full sync that follows every connect is done."""
    deadline = time.monotonic() + 60
    while not listener.connected or _finished_syncs(db) <= before:
        if time.monotonic() > deadline:
            raise RuntimeError("the stream did not connect and sync")
        time.sleep(0.02)


def measure_staged_window(lab: Lab, n: int, seed_cycle: float | None) -> list[Window]:
    """A book of N resting staged entries. The first `stream` of them are filled one at a
    time with the stream listener running: wall time from the price move that fills the
    entry (sent to the exchange) until our journal says a stop is accepted at the broker.
    Then the listener stops and the next `poll` are filled one at a time, each followed by one
    order-monitor cycle: the processing part of a polled window (the wait for the cycle is
    the schedule's). The rest of the book rests far below the market."""
    stream_n = min(lab.window_samples, n // 2)
    poll_n = min(lab.poll_samples, n - stream_n)
    sampled = stream_n + poll_n
    # samples 46.00, 45.99, ...: each price move fills exactly one new entry
    limits = [PRICE - 4 - Decimal("0.01") * i if i < sampled else PRICE - 10 for i in range(n)]
    params = lab.dbs.fresh()
    stream_s: list[float] = []
    poll_s: list[float] = []
    with Exchange() as ex, TradingDB(config=params) as db:
        ex.control.set_prices({s: str(PRICE) for s in SYMBOLS})
        settings = settings_for(ex, PROTECTION_MODE="staged")
        broker = unlimited_broker(settings)
        ids = build_book(params, ex, settings, broker, limits)
        monitor_once(params, broker, settings, now=ex.now)
        ex.latency(lab.latency_ms)
        syncs = _finished_syncs(db)
        listener = OrderStreamListener(params, unlimited_broker(settings), settings,
                                       now=ex.now).start()
        try:
            _wait_for_sync_after_connect(db, listener, syncs)
            ex.control.reset_counters()
            for i in range(stream_n):
                journal = _journal_of(db, ids[i])
                started = time.perf_counter()
                ex.control.set_price(SYMBOLS[i % len(SYMBOLS)], limits[i])
                while not _protected(db, journal):
                    if time.perf_counter() - started > 30:
                        raise RuntimeError(f"decision {ids[i]} not protected by the stream")
                    time.sleep(0.002)
                stream_s.append(time.perf_counter() - started)
            per_fill = {k: v / stream_n for k, v in ex.requests().items()}
        finally:
            listener.stop()
        for i in range(stream_n, sampled):
            journal = _journal_of(db, ids[i])
            started = time.perf_counter()
            ex.control.set_price(SYMBOLS[i % len(SYMBOLS)], limits[i])
            monitor_once(params, broker, settings, now=ex.now)
            poll_s.append(time.perf_counter() - started)
            assert _protected(db, journal), f"decision {ids[i]} not protected by the cycle"
        ex.latency(0)
    lab.dbs.drop(params)
    out = [Window(n, "staged, stream", stream_s,
                  note=f"{stream_n} fills, one at a time, book of {n:,}; broker requests "
                       f"per fill: " + ", ".join(f"`{k}` {v:g}" for k, v in
                                                 sorted(per_fill.items()))),
           Window(n, "staged, polling only", poll_s, polled=True,
                  note=f"{poll_n} fills; the cycle that protects measured (p50 "
                       f"{pct(poll_s, 50):.3f} s, p99 {pct(poll_s, 99):.3f} s, max "
                       f"{max(poll_s):.3f} s), the wait for it added")]
    if seed_cycle is not None:
        # The seed polls every 5 minutes too, and reaches a fill during its pass over every
        # pending order: up to one whole pass late.
        # The seed polls every 5 minutes too and reaches a fill during its pass over every
        # pending order: anywhere from the start of the pass to its end.
        out.append(Window(n, "seed: polling, one GET per order",
                          [(k + 0.5) * seed_cycle / 100 for k in range(100)], polled=True,
                          note=f"its pass over {n:,} orders takes {seed_cycle:.1f} s; a fill is "
                               f"found anywhere in it"))
    return out


def measure_bracket_window(lab: Lab, *, stream: bool) -> Window:
    """Bracket entries of 10 shares filled 5 at first: Alpaca holds both legs until the
    entry is complete, so those five shares have no live stop. The order monitor runs every
    5 minutes on the exchange's stepped clock; each fill lands at its own offset into an
    interval (spread evenly over it); once PARTIAL_ENTRY_TIMEOUT_SECONDS (120) have passed
    since the first fill, a cycle cancels the rest and protects the five shares. The window
    is the journal's unprotected_seconds (exchange time). With `stream` the listener books
    the partial fill when it happens; without it the first cycle after the fill books it."""
    count = lab.bracket_samples
    limits = [PRICE - 4 - Decimal("0.01") * i for i in range(count)]
    params = lab.dbs.fresh()
    windows: list[float] = []
    with Exchange() as ex, TradingDB(config=params) as db, ExitStack() as stack:
        ex.control.set_prices({s: str(PRICE) for s in SYMBOLS})
        settings = settings_for(ex, ORDER_POLLING="true")
        broker = unlimited_broker(settings)
        ids = build_book(params, ex, settings, broker, limits, qty=10)
        ex.set_clock(datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc))  # 10:00, a poll
        monitor_once(params, broker, settings, now=ex.now)
        ex.latency(lab.latency_ms)
        if stream:
            syncs = _finished_syncs(db)
            listener = OrderStreamListener(params, unlimited_broker(settings), settings,
                                           now=ex.now).start()
            stack.callback(listener.stop)
            _wait_for_sync_after_connect(db, listener, syncs)
        for i in range(count):
            symbol = SYMBOLS[i % len(SYMBOLS)]
            journal = _journal_of(db, ids[i])
            [entry] = db.execute_query(
                "SELECT client_order_id FROM order_execution WHERE analysis_decision_id = %s "
                "AND order_role = 'ENTRY'", [ids[i]])
            offset = round((i + 0.5) * POLL_SECONDS / count)
            ex.advance(offset)
            ex.control.set_partial_fill(client_order_id=entry["client_order_id"], ratio="0.5")
            ex.control.set_price(symbol, limits[i])  # 5 of 10 fill
            ex.control.set_price(symbol, PRICE)  # and the rest waits
            if stream:
                _wait_until(partial(_booked, db, journal), f"decision {ids[i]} booked")
            ex.advance(POLL_SECONDS - offset)
            for _ in range(4):
                monitor_once(params, broker, settings, now=ex.now)
                if _protected(db, journal):
                    break
                ex.advance(POLL_SECONDS)
            [row] = db.execute_query("SELECT unprotected_seconds, actual_qty FROM trade_journal "
                                     "WHERE id = %s", [journal])
            assert row["unprotected_seconds"] is not None and row["actual_qty"] == 5, row
            windows.append(float(row["unprotected_seconds"]))
        ex.latency(0)
    lab.dbs.drop(params)
    timeout = settings.partial_entry_timeout_seconds
    if stream:
        mode = "bracket, partial fill, stream"
        bound = (f"at most {timeout:g} s + one interval = {timeout + POLL_SECONDS:g} s: the "
                 f"listener books the fill when it happens, and the first cycle "
                 f"{timeout:g} s after it withdraws the rest and protects")
    else:
        mode = "bracket, partial fill, polling only"
        bound = (f"at most two intervals = {2 * POLL_SECONDS} s, not {timeout:g} s + one: the "
                 f"cycle that books the partial fill decides on the trade as it loaded it, "
                 f"with no first fill yet, so it counts the {timeout:g} s from its own time "
                 f"and the rest is withdrawn one cycle later")
    return Window(0, mode, windows, unit="s exchange time",
                  note=f"{count} partial fills at offsets spread evenly over the 5-minute "
                       f"interval; {bound}")


def _booked(db: TradingDB, journal_id: int) -> bool:
    [row] = db.execute_query("SELECT first_fill_at FROM trade_journal WHERE id = %s",
                             [journal_id])
    return row["first_fill_at"] is not None


def _wait_until(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"not within {seconds} s: {what}")
        time.sleep(0.005)

