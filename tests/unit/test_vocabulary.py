"""The shared vocabulary, each defined once in domain/: a side with its sign and its exit
(`domain/sides.py`), New York market time (`domain/market_time.py`) and a trade's closing
P&L (`domain/pnl.py`)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

from trading_monitor.domain.market_time import (
    HALF_DAY_CLOSE,
    SESSION_CLOSE,
    SESSION_OPEN,
    day_bounds,
    new_york_date,
    new_york_time,
)
from trading_monitor.domain.pnl import closed_pnl, realized_pnl, slippage_bps
from trading_monitor.domain.sides import Side, exit_side, sign

D = Decimal


@pytest.mark.parametrize("text, side, its_sign, its_exit", [
    pytest.param("buy", Side.BUY, D(1), "sell", id="a buy opens a long, closed by a sell"),
    pytest.param("sell", Side.SELL, D(-1), "buy",
                 id="a sell opens a short, closed by a buy to cover"),
    pytest.param("BUY", Side.BUY, D(1), "sell", id="a decision's BUY is a long"),
    pytest.param("SELL", Side.SELL, D(-1), "buy", id="a decision's SELL is a short"),
    pytest.param("long", Side.BUY, D(1), "sell", id="a position row's long"),
    pytest.param("short", Side.SELL, D(-1), "buy", id="a position row's short"),
])
def test_a_side_has_one_sign_and_one_exit(text, side, its_sign, its_exit):
    assert Side.of(text) is side
    assert (sign(text), exit_side(text)) == (its_sign, its_exit)
    assert side == side.value and side.exit.exit is side


@pytest.mark.parametrize("text", ["", "flat", "b", "sell_short"])
def test_a_side_nobody_spells_is_refused_not_guessed(text):
    with pytest.raises(ValueError, match="not a side"):
        Side.of(text)


@pytest.mark.parametrize("qty, side, row", [
    pytest.param(D(10), Side.BUY, "long", id="the broker's 10 shares are a long, row 'long'"),
    pytest.param(D(-3), Side.SELL, "short", id="the broker's -3 shares are a short, row 'short'"),
    pytest.param(D("0.5"), Side.BUY, "long", id="half a share held is still a long"),
])
def test_a_signed_quantity_faces_one_side(qty, side, row):
    assert Side.holding(qty) is side and side.position == row
    assert Side.of(row) is side


def test_a_flat_position_faces_no_side():
    with pytest.raises(ValueError, match="no side"):
        Side.holding(D(0))


@pytest.mark.parametrize("moment, day", [
    pytest.param(datetime(2026, 11, 23, 20, 30, tzinfo=timezone.utc), date(2026, 11, 23),
                 id="20:30 UTC on a winter Monday is Monday in New York"),
    pytest.param(datetime(2026, 11, 24, 1, 0, tzinfo=timezone.utc), date(2026, 11, 23),
                 id="01:00 UTC on Tuesday is still Monday evening in New York"),
    pytest.param(datetime(2026, 7, 7, 3, 59, tzinfo=timezone.utc), date(2026, 7, 6),
                 id="03:59 UTC on a summer Tuesday is still Monday (EDT)"),
    pytest.param(datetime(2026, 7, 7, 4, 0, tzinfo=timezone.utc), date(2026, 7, 7),
                 id="04:00 UTC on a summer Tuesday is midnight, Tuesday"),
])
def test_a_moment_falls_on_one_trading_day(moment, day):
    assert new_york_date(moment) == day


def test_a_naive_time_has_no_trading_day():
    with pytest.raises(ValueError):
        new_york_date(datetime(2026, 11, 23, 12, 0))


@pytest.mark.parametrize("day, at, utc", [
    pytest.param(date(2026, 11, 23), SESSION_OPEN, datetime(2026, 11, 23, 14, 30),
                 id="the winter open is 14:30 UTC"),
    pytest.param(date(2026, 7, 6), SESSION_OPEN, datetime(2026, 7, 6, 13, 30),
                 id="the summer open is 13:30 UTC"),
    pytest.param(date(2026, 11, 23), SESSION_CLOSE, datetime(2026, 11, 23, 21, 0),
                 id="the winter close is 21:00 UTC"),
    pytest.param(date(2026, 11, 27), HALF_DAY_CLOSE, datetime(2026, 11, 27, 18, 0),
                 id="a half day closes at 13:00, 18:00 UTC in winter"),
    pytest.param(date(2026, 3, 9), time(0, 0), datetime(2026, 3, 9, 4, 0),
                 id="the Monday after the clocks go forward starts at 04:00 UTC"),
])
def test_a_new_york_wall_time_is_one_moment(day, at, utc):
    assert new_york_time(day, at) == utc.replace(tzinfo=timezone.utc)
    assert new_york_time(day, at) - new_york_time(day) == timedelta(hours=at.hour,
                                                                     minutes=at.minute)


@pytest.mark.parametrize("side, entry, exits, fees, pnl", [
    pytest.param("buy", "181.00", [(10, "174.00")], "0", "-70.00",
                 id="a long of 10 bought at 181 and stopped at 174 loses 70"),
    pytest.param("buy", "181.00", [(10, "195.00")], "0", "140.00",
                 id="a long of 10 sold at its 195 target wins 140"),
    pytest.param("sell", "100.00", [(10, "105.00")], "0", "-50.00",
                 id="a short of 10 sold at 100 and covered at 105 loses 50"),
    pytest.param("sell", "100.00", [(10, "96.00")], "0", "40.00",
                 id="a short of 10 covered at 96 wins 40"),
    pytest.param("buy", "100.00", [(4, "110.00"), (6, "95.00")], "0", "10.00",
                 id="a long closed in two parts sums each part against the average entry"),
    pytest.param("buy", "100.00", [(10, "110.00")], "1.25", "98.75",
                 id="fees come off the closing P&L"),
    pytest.param("buy", "100.00", [], "0.50", "-0.50",
                 id="with no exit yet only the fees are lost"),
])
def test_closing_pnl(side, entry, exits, fees, pnl):
    assert closed_pnl(side, D(entry), [(D(q), D(p)) for q, p in exits], D(fees)) == D(pnl)


def test_one_exit_is_the_realized_pnl_of_its_shares():
    assert closed_pnl("sell", D(100), [(D(3), D(90))]) == realized_pnl("sell", D(100), D(90),
                                                                        D(3)) == D(30)


@pytest.mark.parametrize("day, hours", [
    pytest.param(date(2026, 11, 23), 24, id="an ordinary New York day is 24 hours"),
    pytest.param(date(2026, 3, 8), 23, id="the day the clocks go forward is 23 hours"),
    pytest.param(date(2026, 11, 1), 25, id="the day the clocks go back is 25 hours"),
])
def test_a_new_york_day_runs_midnight_to_midnight(day, hours):
    start, end = day_bounds(day)
    assert (start, end) == (new_york_time(day), new_york_time(day + timedelta(days=1)))
    assert end.astimezone(timezone.utc) - start.astimezone(timezone.utc) == timedelta(
        hours=hours)
    assert new_york_date(start) == day and new_york_date(end - timedelta(microseconds=1)) == day


@pytest.mark.parametrize("side, asked, got, bps", [
    pytest.param("buy", "100.00", "100.10", "10.00",
                 id="a buy paying 10 cents more slipped 10 bps"),
    pytest.param("buy", "100.00", "99.90", "-10.00", id="a buy filled cheaper slipped -10 bps"),
    pytest.param("sell", "100.00", "99.90", "10.00",
                 id="a sell getting 10 cents less slipped 10 bps"),
    pytest.param("sell", "100.00", "100.10", "-10.00", id="a sell filled higher slipped -10 bps"),
    pytest.param("buy", "50.00", "50.00", "0.00", id="a fill at the price asked did not slip"),
])
def test_slippage_is_worse_than_asked_for_the_orders_side(side, asked, got, bps):
    assert slippage_bps(side, D(asked), D(got)) == D(bps)


@pytest.mark.parametrize("side, a, b, best, level, reached, moved", [
    pytest.param("buy", D("101"), D("99"), D("101"), D("100"), True, D("110.0"),
                 id="a long's best price is the high; 101 has reached a 100 target; +10 % is up"),
    pytest.param("sell", D("101"), D("99"), D("99"), D("100"), False, D("90.0"),
                 id="a short's best price is the low; 101 has not reached a 100 target; "
                    "+10 % is down"),
])
def test_a_side_says_which_way_is_better(side, a, b, best, level, reached, moved):
    s = Side.of(side)
    assert s.best(a, b) == best
    assert s.reached(a, level) is reached and s.reached(level, level)
    assert s.moved(D("100"), D("0.10")) == moved
    assert s.signed(D("5")) == D("5") * s.sign
