"""Split arithmetic (domain/corporate.py): new shares per old, multiplied before divided.

Found by the eighteenth 60-minute model run (seed 20261212): after a 3-for-2 and then a
1-for-3, 18 short shares became 5.999… in our books (18 × the rounded 0.333…), whose whole
part is 5, and the paper exchange did the same to the position. Alpaca holds 6.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from trading_monitor.domain.corporate import Announcement, split_qty

D = Decimal


def _split(old: int, new: int) -> Announcement:
    kind = "forward_split" if new > old else "reverse_split"
    return Announcement(id="x", kind=kind, symbol="AAPL", new_symbol=None, old_rate=D(old),
                        new_rate=D(new), effective=date(2026, 11, 24))


@pytest.mark.parametrize("old,new,qty,whole,fraction", [
    (3, 1, D(18), D(6), D(0)),       # 1-for-3: exactly 6, not 5.999…
    (3, 1, D(-18), D(-6), D(0)),     # a short's too
    (3, 1, D(10), D(3), D(1) / 3),   # 3 whole, a third paid as cash in lieu
    (2, 3, D(4), D(6), D(0)),        # 3-for-2
    (2, 3, D(5), D(7), D("0.5")),
    (7, 1, D(21), D(3), D(0)),       # 1-for-7
])
def test_a_split_scales_shares_exactly(old, new, qty, whole, fraction):
    a = _split(old, new)
    assert split_qty(a.scale(qty)) == (whole, pytest.approx(fraction) if fraction else D(0))


def test_a_price_unscales_exactly():
    assert _split(3, 1).unscale(D("180.00")) == D("540.00")
    assert _split(2, 3).unscale(D("120")) == D("80")
