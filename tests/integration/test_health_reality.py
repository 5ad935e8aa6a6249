"""Issue 28: `health` matches what the broker really holds, on the paper exchange.

- a position closed by hand at the broker is not an "unprotected position";
- a position whose stops are all gone at the broker is not OK, whatever the books say;
- a heartbeat stamped in the future (another clock) proves no daemon alive;
- a 429 is "rate limited", not "broker unreachable", and one passing 429 in a job is a
  WARNING, not a CRITICAL held until the next run.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from alpaca.trading.client import TradingClient

from tests.conftest import TEST_KEYS
from tests.integration.test_status_health import (  # noqa: F401  (fixtures)
    _beat,
    _health,
    _healthy,
    _job,
    clean_env,
    cli_env,
)
from trading_monitor.clock import system_clock

pytestmark = pytest.mark.usefixtures("cli_env")


def trader(exchange) -> TradingClient:
    """The trader's own hand at the broker: the real alpaca-py client, not our code."""
    return TradingClient(TEST_KEYS["ALPACA_API_KEY"], TEST_KEYS["ALPACA_SECRET_KEY"],
                         paper=True, url_override=exchange.url)


def _stop_id(db, jid: int) -> str:
    [row] = [r for r in db.query("order_execution", {"trade_journal_id": jid})
             if r["order_role"] == "STOP_LOSS"]
    return str(row["alpaca_order_id"])


def test_a_position_closed_by_hand_at_the_broker_is_not_unprotected(
        db, jobs, db_params, broker, settings, exchange, capsys):
    jid = jobs.position(db)
    _healthy(db, system_clock())
    hand = trader(exchange)
    hand.cancel_order_by_id(_stop_id(db, jid))  # the OCO: its target goes with it
    hand.close_position("AAPL")
    assert not [p for p in broker.get_positions() if p.symbol == "AAPL"]
    code, out = _health(capsys)
    assert code == 1, out
    assert "unprotected" not in out
    assert f"1 position(s) closed at the broker, not booked yet (trade #{jid} AAPL" in out
    code, out = _health(capsys, "--no-broker", "-v")  # the books alone cannot know
    assert "protection: 1 position(s), all protected in the books" in out, out


def test_health_is_not_ok_while_every_stop_is_gone_at_the_broker(
        db, jobs, db_params, broker, settings, exchange, capsys):
    jid = jobs.position(db)
    _healthy(db, system_clock())
    code, out = _health(capsys, "-v")
    assert code == 0 and "1 position(s), all protected at the broker" in out, out
    trader(exchange).cancel_order_by_id(_stop_id(db, jid))  # the books still say `held`
    code, out = _health(capsys)
    assert code == 2, out
    assert out.startswith(f"CRITICAL: 1 unprotected position (trade #{jid} AAPL: no live "
                          "stop at the broker)"), out


def test_a_heartbeat_stamped_in_the_future_is_no_daemon_alive(db, capsys):
    _beat(db, system_clock() + timedelta(minutes=20, seconds=30))  # a simulated clock's
    _job(db, "order_monitor", "SUCCEEDED")
    code, out = _health(capsys, "--no-broker")
    assert code == 2, out
    assert out == ("CRITICAL: no daemon proven alive: heartbeat stamped 20 min in the future "
                   "(by another clock?)"), out
    assert "0 s ago" not in out


def test_a_429_is_rate_limited_and_one_passing_429_is_not_critical(db, exchange, capsys):
    _healthy(db, system_clock())
    exchange.control.set_fault("GET /v2/account", "http_status", status=429, count=1)
    code, out = _health(capsys)
    assert code == 1, out
    assert "broker rate limited (429)" in out and "unreachable" not in out
    code, out = _health(capsys)  # the fault has passed: nothing is held
    assert code == 0, out
    _job(db, "order_monitor", "FAILED", "TemporaryError: broker rate limit hit (429)",
         run_id="om-429")
    code, out = _health(capsys)
    assert code == 1 and "order_monitor failed once" in out and "rate limited" in out, out
    _job(db, "order_monitor", "SUCCEEDED", run_id="om-after")
    code, out = _health(capsys)
    assert code == 0, out
