"""The order-status vocabulary (`domain/order_status.py`) as a trader reads it: for each
status, may the order still fill, does a stop in it protect the shares, do we wait for the
broker to move it on, and is it the broker's final word that the order is gone.

(tests/test_order_status.py pins the same members against the SQL views, on real rows.)
"""

from __future__ import annotations

import pytest

from trading_monitor.domain.order_status import OrderStatus

ROWS = [
    # status, may fill, protects, settling (wait), withdrawn (gone), at the broker
    pytest.param("new", True, True, False, False, True,
                 id="a new stop at the broker protects the shares"),
    pytest.param("accepted", True, True, True, False, True,
                 id="an accepted stop protects, and the broker moves it on by itself"),
    pytest.param("pending_new", True, True, True, False, True,
                 id="a stop the broker is still taking in already counts as protection"),
    pytest.param("held", True, True, False, False, True,
                 id="a held bracket leg protects once its entry filled"),
    pytest.param("partially_filled", True, True, False, False, True,
                 id="a partly filled stop still protects its unfilled shares"),
    pytest.param("pending_replace", True, True, True, False, True,
                 id="a stop being moved protects at its old price until the broker answers"),
    pytest.param("pending_cancel", True, False, True, False, True,
                 id="a stop whose cancel is pending can still fill but no longer protects"),
    pytest.param("stopped", True, False, False, False, True,
                 id="a stop that triggered is an exit in progress, not protection for later"),
    pytest.param("suspended", True, False, False, False, True,
                 id="a suspended stop is not eligible to trade: it protects nothing"),
    pytest.param("done_for_day", True, False, False, False, True,
                 id="an order done for the day will not trade today: no protection"),
    pytest.param("calculated", True, False, False, False, True,
                 id="a calculated order has stopped trading for the day: no protection"),
    pytest.param("accepted_for_bidding", True, False, False, False, True,
                 id="an order accepted for the auction may still fill"),
    pytest.param("pending_review", True, False, False, False, True,
                 id="an order under review may still fill"),
    pytest.param("pending_submit", True, False, False, False, False,
                 id="our intent, committed but not answered, may have gone out: never "
                    "booked as gone"),
    pytest.param("not_sent", False, False, False, False, False,
                 id="an intent withdrawn before it reached the broker will never fill"),
    pytest.param("filled", False, False, False, False, False,
                 id="a filled order is done"),
    pytest.param("replaced", False, False, False, False, False,
                 id="a replaced order lives on as its successor, not as itself"),
    pytest.param("canceled", False, False, False, True, False,
                 id="cancelled is the broker's final word: the shares are free"),
    pytest.param("expired", False, False, False, True, False,
                 id="expired is the broker's final word"),
    pytest.param("rejected", False, False, False, True, False,
                 id="rejected is the broker's final word"),
    pytest.param("halted_for_ever", True, False, False, False, True,
                 id="a status nobody knows may still fill and protects nothing"),
]


@pytest.mark.parametrize("name, may_fill, protects, settling, withdrawn, at_broker", ROWS)
def test_a_status_means_one_thing(name, may_fill, protects, settling, withdrawn, at_broker):
    s = OrderStatus(name)
    assert (s.may_fill, s.protects, s.settling, s.withdrawn, s.at_broker) == \
        (may_fill, protects, settling, withdrawn, at_broker)
    assert s.final is not may_fill  # final is exactly "can never fill again"


def test_a_status_is_still_its_string():
    assert OrderStatus("new") == "new" and f"{OrderStatus('held')}" == "held"
