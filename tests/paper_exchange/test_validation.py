"""Order requests Alpaca refuses, and the status, code and message it refuses them with."""

from __future__ import annotations

import pytest
from alpaca.common.exceptions import APIError


@pytest.mark.parametrize(
    ("body", "status_code", "fragment"),
    [
        ({"symbol": "NOPE", "qty": "1", "side": "buy", "type": "market",
          "time_in_force": "day"}, 422, 'asset "NOPE" not found'),
        ({"symbol": "HALT", "qty": "1", "side": "buy", "type": "market",
          "time_in_force": "day"}, 422, "not tradable"),
        ({"symbol": "AAPL", "qty": "0", "side": "buy", "type": "market",
          "time_in_force": "day"}, 422, "qty must be > 0"),
        ({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit",
          "time_in_force": "day"}, 422, "limit_price is required"),
        ({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market",
          "time_in_force": "ioc"}, 422, "time_in_force"),
        ({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market",
          "time_in_force": "day", "client_order_id": "x" * 129}, 422, "128"),
        ({"symbol": "AAPL", "qty": "1000000", "side": "buy", "type": "market",
          "time_in_force": "day"}, 403, "insufficient buying power"),
    ],
)
def test_rejected_requests(client, body, status_code, fragment):
    with pytest.raises(APIError) as err:
        client.post("/orders", body)
    assert err.value.status_code == status_code
    assert fragment in err.value.message


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ({"qty": "1", "notional": "100"}, "only one of qty or notional"),
        ({"notional": "100", "type": "limit", "limit_price": "1"}, "notional orders"),
        ({"qty": "1", "type": "stop"}, "stop_price is required"),
        ({"qty": "1", "type": "trailing_stop"}, "trail_price or trail_percent"),
        ({"qty": "1", "type": "limit", "limit_price": "1.00001"}, "sub-penny"),
        ({"qty": "1", "type": "limit", "limit_price": "abc"}, "invalid limit_price"),
        ({"qty": "1", "side": "hold"}, "invalid side"),
        ({"qty": "1", "order_class": "bracket", "take_profit": {"limit_price": "500"}},
         "stop_loss.stop_price is required"),
        ({"qty": "1", "order_class": "bracket", "stop_loss": {"stop_price": "1"}},
         "take_profit.limit_price is required"),
        ({"qty": "1", "order_class": "oto"}, "exactly one of take_profit or stop_loss"),
        ({"qty": "1", "order_class": "oco", "take_profit": {"limit_price": "500"},
          "stop_loss": {"stop_price": "1"}}, "oco orders must be limit orders"),
        ({"qty": "1.5", "order_class": "bracket", "take_profit": {"limit_price": "500"},
          "stop_loss": {"stop_price": "1"}}, "must be simple orders"),
        ({"qty": "1", "type": "stop", "stop_price": "1", "order_class": "bracket",
          "take_profit": {"limit_price": "500"}, "stop_loss": {"stop_price": "1"}},
         "must be market or limit"),
    ],
)
def test_order_validation_messages(client, extra, fragment):
    body = {"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "gtc", **extra}
    with pytest.raises(APIError) as err:
        client.post("/orders", body)
    assert err.value.status_code == 422 and fragment in err.value.message, err.value.message
