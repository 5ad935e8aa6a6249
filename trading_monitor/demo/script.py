"""The demo's week, scripted: what n8n decides and when, and what the market does.

Pure and seeded: `build_week(seed, days)` gives the same week for the same arguments. The
week starts on Monday 23 November 2026, the week of Thanksgiving: Thursday 26 is a market
holiday and Friday 27 closes at 13:00 (the paper exchange's NYSE calendar). Each trading
day's scenes happen only if the demo runs that many days.

- Mon 23: AAPL swing long (target hit on Tuesday); MSFT day-trade short (flattened at
  15:50); NVDA swing long (stopped out from 13:00); AMD resting entry, then CANCEL; GOOGL
  resting entry, then AMEND to a marketable price; a malformed NEW_TRADE.
- Tue 24: NO_ACTION on AAPL; META swing long (+11%: the trailing stop's first step); TSLA
  swing short (closed by hand at the broker at 14:00); SPY day-trade long (partly filled,
  then the price runs away from the rest).
- Wed 25: IWM swing long (gaps through its stop at Friday's open); JPM resting swing short
  (withdrawn after the close); NO_ACTION on META.
- Fri 27, the half day: QQQ day-trade short (flattened at 12:50); NO_ACTION on GOOGL.
- Mon 30 and later: AMZN swing long (still open at the end); NO_ACTION on META.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from trading_monitor.demo.market import Move, PricePath, trading_sessions
from trading_monitor.domain.sides import Side
from trading_monitor.paper_exchange.clock import NY, Session
from trading_monitor.paper_exchange.market import BASE_PRICES

FIRST_DAY = date(2026, 11, 23)
SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMD", "GOOGL", "META", "TSLA", "SPY", "IWM", "JPM", "QQQ",
           "AMZN")
NOTIONAL = Decimal("8000")  # roughly each trade's size
MARKETABLE = Decimal("0.012")  # a marketable limit sits this far through the market
RESTING = Decimal("0.02")  # a resting limit sits this far away from it


@dataclass(frozen=True)
class Scripted:
    """One decision row, written at `at` as n8n would."""

    at: datetime
    label: str  # a short key other decisions refer to
    body: dict[str, Any]
    refers_to: str | None = None  # the decision whose trade this one names (CANCEL/AMEND)
    shows: str = ""  # what the scene is there to show


@dataclass(frozen=True)
class Action:
    """Something the world does at `at`: the exchange's control API, not our code."""

    at: datetime
    kind: str  # partial_fill | clear_partial_fill | close_by_hand
    symbol: str
    ratio: Decimal | None = None


@dataclass
class Week:
    seed: int
    sessions: list[Session]
    path: PricePath
    decisions: list[Scripted] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)

    @property
    def start(self) -> datetime:
        first = self.sessions[0].day
        return datetime(first.year, first.month, first.day, 8, 0, tzinfo=NY)

    @property
    def end(self) -> datetime:
        """After the last day's evening jobs (18:15), before the next day."""
        last = self.sessions[-1].day
        return datetime(last.year, last.month, last.day, 23, 0, tzinfo=NY)

    @property
    def closed_days(self) -> list[date]:
        """Weekdays inside the week the market is closed (the holiday)."""
        days, day = [], self.sessions[0].day
        trading = {s.day for s in self.sessions}
        while day <= self.sessions[-1].day:
            if day.weekday() < 5 and day not in trading:
                days.append(day)
            day += timedelta(days=1)
        return days


def _at(session: Session, hour: int, minute: int) -> datetime:
    d = session.day
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=NY)


def _moves(s: list[Session]) -> list[Move]:
    plan: list[tuple[int, str, int, int, str, int]] = [
        (0, "NVDA", 13, 0, "-0.06", 20),  # through its stop
        (1, "AAPL", 11, 0, "0.06", 30),  # through its target
        (1, "SPY", 9, 46, "0.03", 0),  # away from the partly filled entry
        (1, "META", 13, 0, "0.11", 60),  # past the trailing stop's first step (+8%)
        (3, "IWM", 9, 30, "-0.06", 0),  # Friday's open, after the holiday: a gap
    ]
    return [Move(sym, _at(s[day], h, m), Decimal(pct), ramp)
            for day, sym, h, m, pct, ramp in plan if day < len(s)]


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


class _Scenes:
    """Builds decision bodies from the price path (so entries sit where the market is)."""

    def __init__(self, path: PricePath, sessions: list[Session]):
        self.path, self.s = path, sessions
        self.decisions: list[Scripted] = []
        self.actions: list[Action] = []

    def trade(self, day: int, at: tuple[int, int], label: str, symbol: str, side: str,
              style: str, *, resting: bool = False, stop: str = "0.03",
              target: str | None = "0.05", shows: str = "") -> None:
        moment = _at(self.s[day], *at)
        # the price when the executor first sees it (its first run is at 09:45)
        ref = self.path.price_at(symbol, max(moment, _at(self.s[day], 9, 45)))
        sign = Side.of(side).sign
        offset = -RESTING if resting else MARKETABLE
        entry = _cents(ref * (1 + sign * offset))
        body: dict[str, Any] = {
            "ticker": symbol, "primary_action": "NEW_TRADE", "side": side,
            "trade_style": style, "entry_price": str(entry),
            "stop_loss": str(_cents(entry * (1 - sign * Decimal(stop)))),
            "quantity": int((NOTIONAL / entry).to_integral_value(ROUND_DOWN)) or 1,
            "reasoning": shows}
        if target is not None:
            body["take_profit"] = str(_cents(entry * (1 + sign * Decimal(target))))
        self.decisions.append(Scripted(moment, label, body, shows=shows))

    def act(self, day: int, at: tuple[int, int], label: str, symbol: str, action: str, *,
            refers_to: str | None = None, shows: str = "", **extra: Any) -> None:
        body = {"ticker": symbol, "primary_action": action, "reasoning": shows, **extra}
        self.decisions.append(Scripted(_at(self.s[day], *at), label, body, refers_to, shows))

    def world(self, day: int, at: tuple[int, int], kind: str, symbol: str,
              ratio: str | None = None) -> None:
        self.actions.append(Action(_at(self.s[day], *at), kind, symbol,
                                   Decimal(ratio) if ratio else None))


def _monday(c: _Scenes) -> None:
    c.trade(0, (9, 25), "aapl", "AAPL", "BUY", "SWING", target="0.04",
            shows="swing long that reaches its target")
    c.trade(0, (9, 25), "msft", "MSFT", "SELL", "DAYTRADE", target=None,
            shows="day-trade short, flattened before the close")
    c.trade(0, (9, 25), "nvda", "NVDA", "BUY", "SWING", shows="swing long that is stopped out")
    c.trade(0, (9, 25), "amd", "AMD", "BUY", "SWING", resting=True,
            shows="resting entry, cancelled at 10:30")
    c.trade(0, (9, 25), "googl", "GOOGL", "BUY", "SWING", resting=True,
            shows="resting entry, amended at 11:00")
    c.decisions.append(Scripted(_at(c.s[0], 9, 40), "malformed", {
        "ticker": "AMZN", "primary_action": "NEW_TRADE", "side": "BUY", "trade_style": "SWING",
        "entry_price": "220.00", "take_profit": "240.00", "quantity": 5},
        shows="malformed: a NEW_TRADE without its stop_loss"))
    c.act(0, (10, 30), "amd-cancel", "AMD", "CANCEL", refers_to="amd",
          shows="withdraw the resting AMD entry")
    price = c.path.price_at("GOOGL", _at(c.s[0], 11, 0))
    entry = _cents(price * (1 + MARKETABLE))
    c.act(0, (11, 0), "googl-amend", "GOOGL", "AMEND", refers_to="googl",
          shows="move the GOOGL entry up to the market", side="BUY", trade_style="SWING",
          entry_price=str(entry), stop_loss=str(_cents(entry * Decimal("0.97"))),
          take_profit=str(_cents(entry * Decimal("1.08"))),
          quantity=int((NOTIONAL / entry).to_integral_value(ROUND_DOWN)))


def _tuesday(c: _Scenes) -> None:
    c.act(1, (9, 30), "aapl-hold", "AAPL", "NO_ACTION", shows="keep AAPL (ages it a day)")
    c.trade(1, (9, 25), "meta", "META", "BUY", "SWING", target="0.25",
            shows="swing long whose stop trails to break-even at +8%")
    c.trade(1, (9, 25), "tsla", "TSLA", "SELL", "SWING", shows="swing short closed by hand")
    c.trade(1, (9, 25), "spy", "SPY", "BUY", "DAYTRADE", target=None,
            shows="day-trade long, partly filled")
    c.world(1, (9, 44), "partial_fill", "SPY", "0.4")
    c.world(1, (9, 46), "clear_partial_fill", "SPY")
    c.world(1, (14, 0), "close_by_hand", "TSLA")


def _wednesday(c: _Scenes) -> None:
    c.trade(2, (9, 25), "iwm", "IWM", "BUY", "SWING", stop="0.025", target="0.06",
            shows="swing long that gaps through its stop after the holiday")
    c.trade(2, (9, 25), "jpm", "JPM", "SELL", "SWING", resting=True,
            shows="resting DAY entry, withdrawn after the close")
    c.act(2, (9, 30), "meta-hold", "META", "NO_ACTION", shows="keep META")


def _friday(c: _Scenes) -> None:
    c.trade(3, (9, 25), "qqq", "QQQ", "SELL", "DAYTRADE", target=None,
            shows="day-trade short on the half day, flattened at 12:50")
    c.act(3, (9, 30), "googl-hold", "GOOGL", "NO_ACTION", shows="keep GOOGL")


def _later(c: _Scenes, day: int) -> None:
    if day == 4:
        c.trade(4, (9, 25), "amzn", "AMZN", "BUY", "SWING", target="0.08",
                shows="swing long still open at the end")
    c.act(day, (9, 30), f"meta-hold-{day}", "META", "NO_ACTION", shows="keep META")


def build_week(seed: int, days: int = 5) -> Week:
    if days < 1:
        raise ValueError("the demo needs at least one trading day")
    sessions = trading_sessions(FIRST_DAY, days)
    path = PricePath(seed, {s: BASE_PRICES[s] for s in SYMBOLS}, sessions, _moves(sessions))
    scenes = _Scenes(path, sessions)
    for day, build in enumerate((_monday, _tuesday, _wednesday, _friday)):
        if day < days:
            build(scenes)
    for day in range(4, days):
        _later(scenes, day)
    ordered = sorted(scenes.decisions, key=lambda d: d.at)  # stable: script order on ties
    return Week(seed, sessions, path, ordered, sorted(scenes.actions, key=lambda a: a.at))
