"""Halts seen on the market-data stream's `statuses` channel (issue 21), through the daemon's
halt stream (daemon/halt_stream.py, alpaca-py's StockDataStream) on the paper exchange's
/v2/iex websocket, and the real jobs.

Sources played: the first test plays HALT_SOURCE=statuses with a feed that offers the
channel: the halt is flagged the moment the exchange publishes it (no minute has passed, so no
print rule could have seen it, and it is switched off while the channel is subscribed); the
lift comes from the resume status. The second plays a feed that refuses the channel (409
"insufficient subscription"): the print rule takes over, with a WARNING."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import pytest

from tests.cockpit_fixtures import wait_for
from tests.conftest import exchange_env
from tests.helpers import add_decision, entry, outcome
from tests.integration.test_market_events_splits import enter_and_trail, live_exits
from trading_monitor.cli import status
from trading_monitor.daemon.halt_stream import HaltStream
from trading_monitor.daemon.main import build_daemon
from trading_monitor.engine.health_base import Context
from trading_monitor.engine.symbol_halts import check_symbol_halts, halted, stream_state
from trading_monitor.settings.config import load_settings

D = Decimal


def _stream(db_params: dict[str, Any], settings: Any, exchange: Any) -> HaltStream:
    return HaltStream(db_params, settings, now=exchange.venue.clock.now).start()


def _subscribed(exchange: Any, symbol: str) -> bool:
    clients = exchange.control._call("GET", "/control/market_stream")["clients"]
    return any(symbol in c.get("statuses", []) for c in clients)


@pytest.mark.parametrize("cancel_elected", [False, True])
def test_a_halt_on_the_statuses_channel_gaps_through_the_stop_then_resumes(
        db, jobs, db_params, broker, exchange, caplog, cancel_elected):
    jobs = jobs.with_settings(HALT_SOURCE="statuses", HALT_STREAM_REFRESH_SECONDS="0.2")
    jid = enter_and_trail(db, db_params, broker, jobs.settings, exchange, "AAPL", "180.00", 10,
                          "170.00", "220.00", "195.00")  # stop at 180.00 (break-even)
    halt = _stream(db_params, jobs.settings, exchange)
    try:
        wait_for("AAPL's statuses subscribed", lambda: _subscribed(exchange, "AAPL"))
        wait_for("the channel subscribed", lambda: stream_state(db).get("state") == "subscribed")
        with caplog.at_level(logging.WARNING):
            exchange.control.halt("AAPL", cancel_elected_stops_at_reopen=cancel_elected)
            flag = wait_for("AAPL flagged", lambda: halted(db).get("AAPL"))
        assert flag["by"] == "statuses" and flag["source"].startswith(
            "statuses: H Trading Halt (T1"), flag  # AAPL is a NASDAQ listing: tape C
        alerts = [r.getMessage() for r in caplog.records
                  if getattr(r, "alert_kind", None) == "symbol_halt"]
        assert len(alerts) == 1 and "AAPL: halted (H Trading Halt" in alerts[0], alerts
        exchange.control.set_prices({"AAPL": "150.00"})  # queued: the reopening print
        jobs.position_monitor()  # the position monitor keeps the flag and the stop
        assert live_exits(exchange, "AAPL")["stop"] == (D(10), D(180))
        assert set(status.gather(db, jobs.settings, exchange.venue.clock.now())[
            "symbols_halted"]) == {"AAPL"}
        health = check_symbol_halts(db, Context(settings=jobs.settings,
                                                now=exchange.venue.clock.now()))
        assert (health.state, health.detail["symbols"]) == ("WARNING", ["AAPL"])
        waiting = add_decision(db, entry("AAPL", entry_price="181.00", stop_loss="175.00",
                                         take_profit="195.00", quantity=1))
        jobs.executor()
        assert db.get_by_id("analysis_decision", waiting)["executed"] is False  # deferred
        events = [e["event"] for e in db.query("event_log", {"entity": "trade_journal",
                                                             "entity_id": jid})]
        assert "symbol_halt" in events

        exchange.control.halt("AAPL", halted=False)  # the resume status; reopens at 150
        wait_for("AAPL lifted", lambda: halted(db)["AAPL"].get("lifted_at"))
        jobs.order_monitor()
        j = db.get_by_id("trade_journal", jid)
        if not cancel_elected:
            assert (j["status"], j["exit_reason_code"]) == ("CLOSED", "STOPPED_OUT")
            assert j["actual_pnl"] == (D(150) - D(180)) * 10 - (j["fees"] or 0)
        else:  # Alpaca cancelled the elected stop: protected again at once (still inside
            # the lift grace, so not a hand cancel); 180 over a 150 market is refused, so
            # the position is closed at market (STOP_FAILURE_ACTION=flatten), never naked.
            jobs.order_monitor()
            j = db.get_by_id("trade_journal", jid)
            assert (j["status"], j["exit_reason_code"]) == ("CLOSED", "EMERGENCY")
            assert "stop_cancelled_by_hand" not in [
                e["event"] for e in db.query("event_log", {"entity": "trade_journal",
                                                           "entity_id": jid})]
        assert status.gather(db, jobs.settings, exchange.venue.clock.now())["symbols_halted"][
            "AAPL"]["lifted_at"]
        assert check_symbol_halts(db, Context(settings=jobs.settings,
                                              now=exchange.venue.clock.now())).state == "OK"
        jobs.executor()  # entries go on at once after the resume
        assert db.get_by_id("analysis_decision", waiting)["executed"] is True
        assert outcome(db, waiting)["terminal_state"] in ("EXECUTED", "REJECTED")
        exchange.control.advance(6 * 60)  # past the lift grace: the position monitor drops it
        jobs.position_monitor()
        assert "AAPL" not in halted(db)
    finally:
        halt.stop()
    assert stream_state(db)["state"] == "down"


def test_a_feed_refusing_the_statuses_channel_falls_back_to_prints(
        db, jobs, db_params, broker, exchange, caplog):
    exchange.control._call("POST", "/control/market_stream",
                           {"feed": "iex", "statuses": "refuse", "code": 409})
    jobs = jobs.with_settings(HALT_SOURCE="statuses", HALT_STREAM_REFRESH_SECONDS="0.2")
    jid = enter_and_trail(db, db_params, broker, jobs.settings, exchange, "AAPL", "180.00", 10,
                          "170.00", "220.00", "195.00")
    with caplog.at_level(logging.WARNING):
        halt = _stream(db_params, jobs.settings, exchange)
        try:
            state = wait_for("the refusal", lambda: stream_state(db).get("state") == "refused"
                             and stream_state(db))
            health = check_symbol_halts(db, Context(settings=jobs.settings,
                                                    now=exchange.venue.clock.now()))
        finally:
            halt.stop()
    assert "409 insufficient subscription" in state["detail"], state
    assert (health.state, health.detail["halt_stream"]) == ("OK", "refused")
    assert "the statuses channel was refused: the print rule sees halts" in health.message
    assert any("refused the statuses channel (409 insufficient subscription): halts are seen "
               "by the print rule" in r.getMessage() for r in caplog.records)
    exchange.control.halt("AAPL")
    exchange.control.advance(6 * 60)
    jobs.position_monitor()  # HALT_SOURCE=statuses, refused: prints decide
    flag = halted(db)["AAPL"]
    assert (flag["by"], flag["source"]) == ("prints", "no trade printed for 5 min"), flag
    assert live_exits(exchange, "AAPL")["stop"] == (D(10), D(180))
    assert db.get_by_id("trade_journal", jid)["status"] == "POSITION"


def test_the_daemon_subscribes_what_we_hold_or_work_in_on_one_connection(
        db, jobs, db_params, broker, settings, exchange):
    """The leader's halt stream (HALT_SOURCE=both, the default): statuses for every symbol of
    a PENDING or POSITION trade, resubscribed as the set changes, one connection."""
    enter_and_trail(db, db_params, broker, settings, exchange, "AAPL", "180.00", 10, "170.00",
                    "220.00", "195.00")
    daemon = build_daemon(load_settings(exchange_env(exchange, HALT_STREAM_REFRESH_SECONDS="0.2"),
                                        need_broker=True), db_params,
                          election_seconds=60, heartbeat_seconds=60)
    clients = lambda: exchange.control._call("GET", "/control/market_stream")["clients"]  # noqa: E731
    try:
        daemon.elect()  # the leader starts the order stream and the halt stream
        assert daemon.leadership.is_leader
        wait_for("AAPL subscribed", lambda: _subscribed(exchange, "AAPL"))
        waiting = add_decision(db, entry("MSFT", entry_price="400.00", stop_loss="380.00",
                                         take_profit="450.00", quantity=1))  # rests: PENDING
        jobs.executor()
        assert outcome(db, waiting) is None or outcome(db, waiting)["terminal_state"] != "REJECTED"
        wait_for("MSFT subscribed too", lambda: _subscribed(exchange, "MSFT"))
        assert [sorted(c["statuses"]) for c in clients()] == [["AAPL", "MSFT"]]  # one socket
        exchange.control.halt("MSFT")
        flag = wait_for("MSFT flagged", lambda: halted(db).get("MSFT"))
        assert flag["source"].startswith("statuses: "), flag
        exchange.control.halt("MSFT", halted=False)
        wait_for("MSFT lifted", lambda: halted(db)["MSFT"].get("lifted_at"))
        exchange.control.set_prices({"AAPL": "220.00"})  # AAPL's take profit: closed
        jobs.order_monitor()
        wait_for("AAPL unsubscribed", lambda: [sorted(c.get("statuses", []))
                                               for c in clients()] == [["MSFT"]])
    finally:
        daemon.close()
    wait_for("the socket closed", lambda: clients() == [])
    assert stream_state(db)["state"] == "down"


def test_a_resume_missed_while_the_stream_was_down_is_lifted_by_a_print(
        db, jobs, db_params, broker, exchange):
    """Statuses flag the halt; the stream is then down when the resume comes: the next print
    (the position monitor's snapshot) proves trading resumed and lifts the flag."""
    jobs = jobs.with_settings(HALT_STREAM_REFRESH_SECONDS="0.2")
    enter_and_trail(db, db_params, broker, jobs.settings, exchange, "AAPL", "180.00", 10, "170.00",
                    "220.00", "195.00")
    halt = _stream(db_params, jobs.settings, exchange)
    try:
        wait_for("AAPL subscribed", lambda: _subscribed(exchange, "AAPL"))
        exchange.control.halt("AAPL")
        wait_for("AAPL flagged", lambda: halted(db).get("AAPL"))
    finally:
        halt.stop()
    exchange.control.advance(60)
    exchange.control.halt("AAPL", halted=False)  # nobody listening: the resume is missed
    exchange.control.set_prices({"AAPL": "196.00"})  # a print after the halt began
    jobs.position_monitor()
    assert halted(db)["AAPL"]["lifted_at"]
    assert check_symbol_halts(db, Context(settings=jobs.settings,
                                          now=exchange.venue.clock.now())).state == "OK"
