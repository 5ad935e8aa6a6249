"""Issue 28: a hand close while the daemon runs, on the paper exchange.

- `trading-monitor flatten TRADE_ID --reason` closes one trade now, under the kill switch's
  locks, keeping its stop until the exit can go; a refused exit gets the stop back.
- A stop the trader cancels at the broker is not put back at once: an ALERT and
  HAND_CANCEL_GRACE_SECONDS, during which the trader closes the position by hand (booked
  MANUAL); a position still there after the grace is protected again.

The daemon runs in this process (its real jobs every 0.3 s, its real stream listener), so a
poll that would re-protect during the grace does run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from alpaca.trading.client import TradingClient

from tests.conftest import TEST_KEYS, exchange_env
from tests.helpers import add_decision, entry, exchange_now
from tests.integration.test_status_health import clean_env, cli_env  # noqa: F401  (fixtures)
from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.transport import RequestBudget
from trading_monitor.cli import flatten
from trading_monitor.cli import health_checks as hc
from trading_monitor.clock import system_clock
from trading_monitor.daemon.app import Daemon
from trading_monitor.order_monitor.listener import OrderStreamListener
from trading_monitor.settings.config import load_settings

LIVE = {"new", "accepted", "held", "partially_filled", "pending_new"}


def wait_for(condition, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {seconds}s"
        time.sleep(0.05)


def trader(exchange) -> TradingClient:
    """The trader's own hand at the broker: the real alpaca-py client, not our code."""
    return TradingClient(TEST_KEYS["ALPACA_API_KEY"], TEST_KEYS["ALPACA_SECRET_KEY"],
                         paper=True, url_override=exchange.url)


def _run_daemon(db_params, exchange, **env: str) -> Iterator[Daemon]:
    settings = load_settings(exchange_env(exchange, **env), need_broker=True)
    broker = AlpacaBroker(settings, budget=RequestBudget(100_000))
    daemon = Daemon(settings, db_params, broker, now=exchange_now, election_seconds=0.2,
                    heartbeat_seconds=0.5, fast_seconds=0.3,
                    listener_factory=lambda: OrderStreamListener(db_params, broker, settings,
                                                                 now=exchange_now))
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: daemon._listener is not None and daemon._listener.connected)
        yield daemon
    finally:
        daemon.stop()
        thread.join(30)


@pytest.fixture
def daemon(db_params, exchange) -> Iterator[Daemon]:
    yield from _run_daemon(db_params, exchange, HAND_CANCEL_GRACE_SECONDS="4")


def _trade_of(db, decision_id: int) -> int | None:
    rows = db.query("decision_outcome", {"analysis_decision_id": decision_id})
    return rows[0]["trade_journal_id"] if rows else None


@pytest.fixture
def daemon_short_reconcile_grace(db_params, exchange) -> Iterator[Daemon]:
    """The stepped clock stands still: the test moves it past RECONCILE_GRACE_SECONDS."""
    yield from _run_daemon(db_params, exchange, HAND_CANCEL_GRACE_SECONDS="4",
                           RECONCILE_GRACE_SECONDS="1")


def _protected_position(db) -> int:
    d = add_decision(db, entry(entry_price="181.00", stop_loss="175.00", take_profit="195.00"))
    jid = wait_for(lambda: _trade_of(db, d))
    wait_for(lambda: (db.get_by_id("trade_journal", jid) or {}).get("protected_at"))
    return int(jid)


def _stop(db, jid: int) -> dict:
    return max((r for r in db.query("order_execution", {"trade_journal_id": jid})
                if r["order_role"] == "STOP_LOSS"), key=lambda r: r["id"])


def _live_at_exchange(exchange, symbol: str = "AAPL") -> list[dict]:
    out = []
    for order in exchange.control.orders():
        for o in (order, *(order.get("legs") or [])):
            if o["symbol"] == symbol and o["status"] in LIVE:
                out.append(o)
    return out


def _protection(db, daemon: Daemon) -> hc.Check:
    """health's protection check, reading the broker, while the daemon runs."""
    return hc.check_protection(db, hc.Context(now=system_clock(),
                                                      settings=daemon.settings, broker=True))


def _events(db, jid: int, event: str) -> list[dict]:
    return [r for r in db.query("event_log", {"entity": "trade_journal", "entity_id": jid})
            if r["event"] == event]


def test_a_stop_cancelled_by_hand_waits_its_grace_then_is_protected_again(
        db, exchange, daemon, caplog):
    jid = _protected_position(db)
    first = _stop(db, jid)
    trader(exchange).cancel_order_by_id(first["alpaca_order_id"])
    wait_for(lambda: _events(db, jid, "stop_cancelled_by_hand"))
    # health: not OK while the stop is gone, though the position was protected a moment ago.
    check = _protection(db, daemon)
    assert check.state == hc.CRITICAL and "no live stop at the broker" in check.message, check
    assert any("its stop" in r.getMessage() and "cancelled at the broker, not by us" in
               r.getMessage() for r in caplog.records if r.getMessage().startswith("ALERT"))
    samples = 0

    def protected_again() -> bool:
        # Stops first, then the grace's end: a new stop before the grace ended would show
        # here as a new row while no `hand_cancel_grace_over` exists yet.
        nonlocal samples
        samples += 1
        newer = _stop(db, jid)["id"] != first["id"]
        over = _events(db, jid, "hand_cancel_grace_over")
        assert over or not newer, "protected again during the grace"
        return bool(over) and newer and _stop(db, jid)["order_status"] in LIVE

    wait_for(protected_again, 30)
    assert samples > 20  # the grace was watched while the monitors ran every 0.3 s
    stops = [o for o in _live_at_exchange(exchange) if o["type"] in ("stop", "stop_limit")]
    assert [float(o["qty"]) for o in stops] == [10.0]


def test_a_position_closed_by_hand_within_the_grace_is_booked_manual(
        db, exchange, daemon_short_reconcile_grace):
    jid = _protected_position(db)
    hand = trader(exchange)
    hand.cancel_order_by_id(_stop(db, jid)["alpaca_order_id"])
    wait_for(lambda: _events(db, jid, "stop_cancelled_by_hand"))
    hand.close_position("AAPL")  # the runbook's hand close: no 403, nothing put back first
    # health: a position closed by hand is no "unprotected position", booked yet or not.
    check = _protection(db, daemon_short_reconcile_grace)
    assert check.state != hc.CRITICAL and "unprotected" not in check.message, check
    # Seen gone, and the trader's fill read, on a clock standing still; then the
    # reconciliation grace passes (the hand-cancel grace of 4 s does not).
    wait_for(lambda: [r for r in db.query("reconciliation_issue", {"trade_journal_id": jid})
                      if r["kind"] == "GONE_AT_BROKER" and r["resolved_at"] is None])
    wait_for(lambda: [f for f in db.query("fills", {"symbol": "AAPL"})
                      if f["side"] == "sell" and f["trade_journal_id"] is None])
    exchange.control.advance(2)
    wait_for(lambda: db.get_by_id("trade_journal", jid)["status"] == "CLOSED", 60)
    journal = db.get_by_id("trade_journal", jid)
    assert journal["exit_reason_code"] == "MANUAL"
    # The trader's sell is the trade's exit now, through the ledger (assign_exit_fills).
    sold = [f for f in db.query("fills", {"symbol": "AAPL"}) if f["side"] == "sell"]
    assert sold and all(f["trade_journal_id"] == jid for f in sold)
    assert len(_events(db, jid, "exit_fills")) == 1
    wait_for(lambda: _events(db, jid, "hand_cancel_grace_over"), 30)
    assert _live_at_exchange(exchange) == []
    assert [p for p in exchange.control.state()["positions"] if p["symbol"] == "AAPL"] == []


@pytest.mark.usefixtures("cli_env")
def test_flatten_closes_one_trade_at_once_while_the_daemon_runs(db, exchange, daemon,
                                                                 capsys):
    jid = _protected_position(db)
    other = add_decision(db, entry("MSFT", entry_price="421.00", stop_loss="410.00",
                                   take_profit="440.00"))
    msft = wait_for(lambda: _trade_of(db, other))
    wait_for(lambda: db.get_by_id("trade_journal", msft)["protected_at"])
    assert flatten.main([str(jid), "--reason", "news after the open"]) == 0
    out = capsys.readouterr().out
    assert f"trade #{jid}: closed" in out, out
    journal = db.get_by_id("trade_journal", jid)
    # The trader's own close, booked as such: not a target reached.
    assert (journal["status"], journal["exit_reason_code"]) == ("CLOSED", "MANUAL")
    assert [r["purpose"] for r in db.query("order_execution", {"trade_journal_id": jid})
            if r["order_role"] == "EXIT"] == ["MANUAL"]
    [asked] = _events(db, jid, "flatten_requested")
    [done] = _events(db, jid, "flatten")
    assert asked["detail"]["source"].startswith("cli:") and done["to_status"] == "closed"
    assert asked["detail"]["reason"] == "news after the open"
    # Nothing put back for the closed trade, and the other trade untouched.
    assert _live_at_exchange(exchange) == []
    assert db.get_by_id("trade_journal", msft)["status"] == "POSITION"
    assert len([o for o in _live_at_exchange(exchange, "MSFT")
                if o["type"] in ("stop", "stop_limit")]) == 1
    assert not _events(db, jid, "stop_cancelled_by_hand")


@pytest.mark.usefixtures("cli_env")
def test_flatten_with_the_exit_refused_puts_the_stop_back(db, exchange, daemon, capsys):
    jid = _protected_position(db)
    exchange.control.set_fault("POST /v2/orders", "http_status", status=403, count=1,
                               message="insufficient qty available for order")
    assert flatten.main([str(jid), "--reason", "try"]) == 3
    assert f"trade #{jid}: refused" in capsys.readouterr().out
    assert db.get_by_id("trade_journal", jid)["status"] == "POSITION"
    stops = [o for o in _live_at_exchange(exchange) if o["type"] in ("stop", "stop_limit")]
    assert [float(o["qty"]) for o in stops] == [10.0]
    assert _stop(db, jid)["time_in_force"] == "gtc"


@pytest.mark.usefixtures("cli_env")
def test_flatten_refuses_a_closed_market_and_a_trade_not_open(db, exchange, daemon,
                                                              capsys):
    jid = _protected_position(db)
    assert flatten.main(["999", "--reason", "typo"]) == 4
    exchange.control.advance(7 * 3600)  # after the close
    assert flatten.main([str(jid), "--reason", "late"]) == 4
    assert "the market is closed" in capsys.readouterr().out
    assert db.get_by_id("trade_journal", jid)["status"] == "POSITION"
    assert not _events(db, jid, "flatten_requested")
