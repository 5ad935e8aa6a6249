"""Staircase trailing stops (`domain/trailing.py`) as a specification. With the default steps
`8:0,15:8,25:15`: at +8% the stop moves to break-even, at +15% to +8%, at +25% to +15%.
A short mirrors a long; the stop never loosens; a jump across two steps takes the higher one.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from trading_monitor.domain.trailing import (
    DEFAULT_STEPS,
    Step,
    TrailMove,
    gain_pct,
    parse_steps,
    trail,
)

D = Decimal
STEPS = parse_steps(DEFAULT_STEPS)


@pytest.mark.parametrize("side, entry, best, stop, step, expected", [
    pytest.param("buy", "100", "107.99", None, 0, None,
                 id="below +8% a long's stop stays where it is"),
    pytest.param("buy", "100", "108", None, 0, TrailMove(1, D("100.00")),
                 id="at +8% a long's stop moves to break-even"),
    pytest.param("buy", "100", "115", "100.00", 1, TrailMove(2, D("108.00")),
                 id="at +15% a long's stop moves to +8%"),
    pytest.param("buy", "100", "126", "93.00", 0, TrailMove(3, D("115.00")),
                 id="a jump from nothing to +26% applies the highest step reached"),
    pytest.param("buy", "100", "112", "100.00", 1, None,
                 id="a step already applied is not applied again"),
    pytest.param("buy", "100", "109", "101.00", 0, None,
                 id="a stop already above break-even is never loosened to it"),
    pytest.param("sell", "100", "92", None, 0, TrailMove(1, D("100.00")),
                 id="a short 8% in the money (price 92) moves its buy stop to break-even"),
    pytest.param("sell", "100", "85", "100.00", 1, TrailMove(2, D("92.00")),
                 id="a short at +15% (price 85) moves its stop down to 92"),
    pytest.param("sell", "100", "108", None, 0, None,
                 id="a short's price rising is a loss: nothing trails"),
    pytest.param("sell", "100", "90", "99.00", 0, None,
                 id="a short's stop already below break-even is never loosened to it"),
    pytest.param("buy", "33.33", "38.33", None, 0, TrailMove(2, D("35.99")),
                 id="a long's new stop rounds down to the cent (35.9964 is 35.99)"),
    pytest.param("sell", "33.33", "28.33", None, 0, TrailMove(2, D("30.67")),
                 id="a short's new stop rounds up to the cent (30.6636 is 30.67)"),
    pytest.param("buy", "0.5123", "0.60", None, 0, TrailMove(2, D("0.5532")),
                 id="a stop under a dollar is on a tick of 0.0001"),
])
def test_trail(side, entry, best, stop, step, expected):
    current = D(stop) if stop is not None else None
    assert trail(side, D(entry), D(best), STEPS, current, step) == expected


@pytest.mark.parametrize("side, entry, price, expected", [
    pytest.param("buy", "100", "110", D(10), id="a long up 10 dollars on 100 is +10%"),
    pytest.param("buy", "100", "95", D(-5), id="a long down to 95 is -5%"),
    pytest.param("sell", "100", "90", D(10), id="a short whose price fell to 90 is +10%"),
    pytest.param("sell", "100", "105", D(-5), id="a short whose price rose to 105 is -5%"),
])
def test_gain(side, entry, price, expected):
    assert gain_pct(side, D(entry), D(price)) == expected


@pytest.mark.parametrize("text, expected", [
    pytest.param("8:0,15:8,25:15", (Step(D(8), D(0)), Step(D(15), D(8)), Step(D(25), D(15))),
                 id="the default staircase reads as three steps"),
    pytest.param("25:15, 8:0,15:8,", (Step(D(8), D(0)), Step(D(15), D(8)), Step(D(25), D(15))),
                 id="steps in any order, with spaces and a trailing comma, are sorted"),
    pytest.param("", (), id="no steps: no trailing"),
    pytest.param("5:2.5", (Step(D(5), D("2.5")),), id="fractional percentages are exact"),
])
def test_parse_steps(text, expected):
    assert parse_steps(text) == expected


@pytest.mark.parametrize("text, message", [
    pytest.param("8:8", "below the gain", id="a stop at the gain itself would sell at once"),
    pytest.param("8:10", "below the gain", id="a stop past the gain is refused"),
    pytest.param("0:0", "below the gain", id="a step at no gain is refused"),
    pytest.param("8:-1", "below the gain", id="a stop below the entry is not a trailing step"),
    pytest.param("8:5,15:3", "must not move the stop back",
                 id="a higher step may not put the stop back lower"),
])
def test_parse_steps_refuses(text, message):
    with pytest.raises(ValueError, match=message):
        parse_steps(text)
