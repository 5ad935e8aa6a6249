"""The simulated world: clock, prices and engine moved forward together, in time order."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from trading_monitor.paper_exchange import clock, corporate, halts, risk, wire
from trading_monitor.paper_exchange.account import Position
from trading_monitor.paper_exchange.assets import NOT_TRADABLE, universe
from trading_monitor.paper_exchange.engine import Engine
from trading_monitor.paper_exchange.events import Ids
from trading_monitor.paper_exchange.faults import Faults
from trading_monitor.paper_exchange.market import Market, load_scenario, open_minutes_between
from trading_monitor.paper_exchange.ratelimit import TokenBucket

# Sort key so that, at the same instant, a session boundary is handled before a price.
_BOUNDARY, _TIMER, _POINT, _WALK, _ACTION = 0, 1, 2, 3, 4


class Venue:
    def __init__(self, *, seed: int, start: datetime, clock_mode: str, speed: float,
                 scenario: str | Path | None, rate_limit_per_min: int | None,
                 random_walk: bool = True) -> None:
        self._start_over = partial(self._fresh, seed, start, clock_mode, speed, scenario,
                                   rate_limit_per_min, random_walk)
        self.generation = 0  # bumped by reset: a request held over a reset is dropped
        self._start_over()

    def reset(self) -> None:
        """Back to the start state: as if the exchange had just been created."""
        self.generation += 1
        self._start_over()

    def _fresh(self, seed: int, start: datetime, clock_mode: str, speed: float,
               scenario: str | Path | None, rate_limit_per_min: int | None,
               random_walk: bool) -> None:
        self.seed = seed
        self.clock = clock.SimClock(start, clock_mode, speed)
        now = self.clock.now()
        points = load_scenario(scenario) if scenario else []
        self.market = Market(seed, now, points)
        if not random_walk:
            self.market.pinned.update(self.market.prices)
        self.assets = universe(set(self.market.prices))
        self.ids = Ids(seed)
        self.account_id = self.ids.uuid()
        self.created_at = now
        self.engine = Engine(self.ids, self.market, {s: a.id for s, a in self.assets.items()},
                             set(NOT_TRADABLE))
        self.faults = Faults(seed)
        self.bucket = TokenBucket(rate_limit_per_min)
        self.position_lag = 0.0
        self.last_equity = self.engine.ledger.cash
        self.actions: list[corporate.CorporateAction] = []  # announced corporate actions
        self._synced = now

    @property
    def now(self) -> datetime:
        return self._synced

    def sync(self) -> datetime:
        """Replay everything between the last sync and the clock's now, oldest first."""
        now = self.clock.now()
        if now == self._synced:
            return now
        if now < self._synced:
            # set_clock may move time backwards; what already happened stays happened.
            self._synced = now
            self._settle(now)
            return now
        timeline: list[tuple[datetime, int, Any]] = []
        timeline += [(b, _BOUNDARY, None) for b in clock.boundaries_between(self._synced, now)]
        timeline += [(p.at, _POINT, p) for p in self.market.due_points(now)]
        timeline += [(t, _TIMER, None) for t in self.engine.due_times(self._synced, now)]
        timeline += [(a.due_at, _ACTION, a) for a in self.actions
                     if a.applied_at is None and self._synced < a.due_at <= now]
        if len(self.market.pinned) < len(self.market.prices):
            minutes = open_minutes_between(self._synced, now, clock.is_open)
            timeline += [(m, _WALK, None) for m in minutes]
        timeline.sort(key=lambda item: (item[0], item[1]))
        for at, kind, payload in timeline:
            if kind == _POINT:
                self.market.apply_point(payload)
            elif kind == _WALK:
                self.market.walk_step(at)
            elif kind == _ACTION:
                corporate.apply(self, payload, at)
            self._settle(at)
            if kind == _BOUNDARY and not clock.is_open(at):
                self.market.mark_close()
                self.last_equity = self.totals().equity
        self._synced = now
        self._settle(now)
        return now

    def sync_after_change(self) -> None:
        self._settle(self.now, moved=False)

    def announce(self, action: corporate.CorporateAction, now_too: bool | None) -> None:
        """Schedule a corporate action for its ex-date's pre-open, or apply it now (`now_too`
        None: now if that moment has passed)."""
        now = self.sync()
        if now_too is False and action.due_at <= now:
            raise ValueError("the ex-date's pre-open has passed: it can only apply now")
        self.actions.append(action)
        if now_too or (now_too is None and action.due_at <= now):
            corporate.apply(self, action, now)
            self.settle_now()

    def settle_now(self) -> None:
        """A price changed outside set_prices (a reopening print, a split): match at once."""
        self._settle(self.now)

    def _settle(self, at: datetime, moved: bool = True) -> None:
        if moved:  # time passed or a price changed (not merely a request came in)
            self.engine.epoch += 1
        # Timers first: a cancel due at `at` goes through before anything trades at `at`.
        self.engine.run_timers(at)
        if clock.is_open(at):
            self.engine.match(at)

    # -- control ----------------------------------------------------------------------------

    def set_prices(self, prices: dict[str, Decimal]) -> None:
        now = self.sync()
        for symbol, price in prices.items():
            symbol = symbol.upper()
            if symbol not in self.assets:
                raise ValueError(f"unknown symbol {symbol}")
            self.market.set_price(symbol, price, now)
        self._settle(now)

    def set_quote(self, symbol: str, bid: Decimal | None, ask: Decimal | None) -> None:
        now = self.sync()
        self.market.set_quote(self._known(symbol), bid, ask, now)

    def set_volume(self, symbol: str, daily: int | None, previous: int | None) -> None:
        self.market.set_volume(self._known(symbol), daily, previous)

    def _known(self, symbol: str) -> str:
        if symbol.upper() not in self.assets:
            raise ValueError(f"unknown symbol {symbol}")
        return symbol.upper()

    def advance(self, seconds: float) -> datetime:
        self.sync()
        self.clock.advance(seconds)
        return self.sync()

    def set_clock(self, at: datetime) -> datetime:
        self.sync()
        self.clock.set(at)
        return self.sync()

    def set_partial_fill(self, *, symbol: str | None, client_order_id: str | None,
                         ratio: Decimal | None, rest: bool = False) -> None:
        if ratio is not None and not 0 < ratio < 1:
            raise ValueError("ratio must be between 0 and 1 (exclusive)")
        if symbol is not None and symbol.upper() not in self.assets:
            raise ValueError(f"unknown symbol {symbol}")
        table, key = ((self.engine.partial_by_symbol, symbol.upper()) if symbol is not None
                      else (self.engine.partial_by_client_id, str(client_order_id)))
        if ratio is None:
            table.pop(key, None)
            if key in self.engine.partial_rest:
                self.engine.partial_rest.discard(key)
                self.settle_now()  # the resting remainder may fill now
        else:
            table[key] = ratio
            if rest:
                self.engine.partial_rest.add(key)
            else:
                self.engine.partial_rest.discard(key)

    def close_manually(self, symbol: str) -> dict[str, Any]:
        now = self.sync()
        order = self.engine.close_position(symbol.upper(), None, now, manual=True)
        self._settle(now, moved=False)
        return wire.order(order, None)

    # -- views ------------------------------------------------------------------------------

    def totals(self) -> Any:
        return self.engine.ledger.totals(self.market.prices, risk.reserved(self.engine))

    def positions_view(self) -> dict[str, Position]:
        if self.position_lag <= 0:
            return self.engine.ledger.positions
        self.engine.played["lagged_position_reads"] += 1
        return self.engine.ledger.as_of(self.now - timedelta(seconds=self.position_lag))

    def position_json(self, p: Position) -> dict[str, Any]:
        side = "sell" if p.qty > 0 else "buy"
        available = abs(p.qty) - risk.held_qty(self.engine, p.symbol, side)
        price = self.market.price(p.symbol)
        lastday = self.market.previous_close.get(p.symbol, price)
        return wire.position(p, self.assets[p.symbol], price, lastday,
                             max(Decimal(0), available))

    def account_json(self) -> dict[str, Any]:
        return wire.account(self.account_id, self.totals(), self.last_equity, self.created_at,
                            self.now.astimezone(clock.NY).date())

    def order_json(self, order_id: str, nested: bool) -> dict[str, Any]:
        order = self.engine.get(order_id)
        legs = [self.engine.orders[i] for i in order.legs] if nested and order.legs else None
        return wire.order(order, legs)

    def state(self) -> dict[str, Any]:
        return {
            "clock": wire.market_clock(self.now),
            "account": self.account_json(),
            "positions": [self.position_json(p) for p in self.engine.ledger.positions.values()],
            "prices": {s: wire.num(p) for s, p in self.market.prices.items()},
            "faults": [f.describe() for f in self.faults.active],
            "position_lag_seconds": self.position_lag,
            "rate_limit_per_min": self.bucket.per_min,
            "cancel_behavior": self.engine.cancel_behavior(),
            "rules": self.engine.rules.describe(),
            "halts": halts.describe_all(self),
        }
