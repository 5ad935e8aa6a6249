"""The triggers of migration 0012, each column and row they watch (issue 24): ids only in the
payload; a pending decision's substance (the decision JSON, the `existing_*` ids) wakes, the
executor's write-backs do not; the kill switch's row on INSERT, UPDATE and DELETE, and no
other row of system_state; `exit_approved` turning true, and nothing else of the row. And
the listener's thread outlives an error in its callback."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import psycopg2
import psycopg2.extensions

from tests.helpers import add_decision, entry, ledger
from tests.integration.test_daemon_notify import wait_for
from trading_monitor.daemon.wakeups import CHANNEL, DOWN, UP, NotifyListener


def _listen(params: dict[str, Any]) -> Any:
    conn = psycopg2.connect(**{k: v for k, v in params.items() if v not in (None, "")})
    conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
    conn.cursor().execute(f"LISTEN {CHANNEL}")
    return conn


def _heard(conn: Any) -> list[str]:
    time.sleep(0.1)
    conn.poll()
    payloads = [n.payload for n in conn.notifies]
    conn.notifies.clear()
    return payloads


def test_the_triggers_notify_ids_only_and_never_for_write_backs(db, db_params):
    conn = _listen(db_params)
    try:
        decision = add_decision(db, entry())
        assert _heard(conn) == [f"decision:{decision}"]
        # The executor's write-back sets executed = true: nothing.
        db.execute_update("UPDATE analysis_decision SET executed = true, existing_order_id = "
                          "'x', execution_time = now() WHERE id = %s", [decision])
        assert _heard(conn) == []
        pending = add_decision(db, entry())
        _heard(conn)
        db.execute_update("UPDATE analysis_decision SET reasoning = 'note' WHERE id = %s",
                          [pending])
        db.execute_update("UPDATE analysis_decision SET ticker = 'AAPL' WHERE id = %s",
                          [pending])  # set to what it was: no change, nothing
        assert _heard(conn) == []
        db.execute_update("UPDATE analysis_decision SET primary_action = 'CANCEL' "
                          "WHERE id = %s", [pending])
        assert _heard(conn) == [f"decision:{pending}"]
        # system_state: the kill switch's row and nothing else.
        db.execute_update("INSERT INTO system_state (key, value) VALUES ('fill_cursor', 'x')")
        assert _heard(conn) == []
        db.execute_update("INSERT INTO system_state (key, value) VALUES ('kill_switch', 'on')")
        db.execute_update("UPDATE system_state SET value = 'off' WHERE key = 'kill_switch'")
        assert _heard(conn) == ["kill_switch", "kill_switch"]
    finally:
        conn.close()


def test_a_pending_decisions_substance_wakes_and_nothing_else(db, db_params):
    conn = _listen(db_params)
    try:
        pending = add_decision(db, entry())
        assert _heard(conn) == [f"decision:{pending}"]
        changed = {**entry(), "entry_price": "180.50"}
        db.execute_update("UPDATE analysis_decision SET decision = %s WHERE id = %s",
                          [json.dumps(changed), pending])
        db.execute_update("UPDATE analysis_decision SET existing_trade_journal_id = 7 "
                          "WHERE id = %s", [pending])
        db.execute_update("UPDATE analysis_decision SET existing_order_id = 'abc' "
                          "WHERE id = %s", [pending])
        assert _heard(conn) == [f"decision:{pending}"] * 3
        # Once executed, even its substance wakes nothing (the executor's own write-back).
        db.execute_update("UPDATE analysis_decision SET executed = true, primary_action = "
                          "'CANCEL' WHERE id = %s", [pending])
        db.execute_update("UPDATE analysis_decision SET ticker = 'MSFT' WHERE id = %s",
                          [pending])
        assert _heard(conn) == []
    finally:
        conn.close()


def test_the_kill_switch_row_on_every_change_and_no_other_row(db, db_params):
    conn = _listen(db_params)
    try:
        db.execute_update("INSERT INTO system_state (key, value) VALUES ('halt_drawdown', 'on')")
        db.execute_update("UPDATE system_state SET value = '' WHERE key = 'halt_drawdown'")
        db.execute_update("DELETE FROM system_state WHERE key = 'halt_drawdown'")
        assert _heard(conn) == []
        db.execute_update("INSERT INTO system_state (key, value) VALUES ('kill_switch', 'on')")
        db.execute_update("DELETE FROM system_state WHERE key = 'kill_switch'")
        assert _heard(conn) == ["kill_switch", "kill_switch"]  # no value, no reason: ids only
    finally:
        conn.close()


def test_an_exit_approval_turning_true_and_nothing_else(db, db_params):
    jid = ledger(db).adopt_external_position("SPY", Decimal(3), Decimal("600.00"), "a test")
    [row] = db.query("position_tracking", {"trade_journal_id": jid})
    conn = _listen(db_params)
    try:
        db.execute_update("UPDATE position_tracking SET current_price = 601 WHERE id = %s",
                          [row["id"]])
        db.execute_update("UPDATE position_tracking SET exit_approved = false WHERE id = %s",
                          [row["id"]])
        assert _heard(conn) == []
        db.execute_update("UPDATE position_tracking SET exit_approved = true WHERE id = %s",
                          [row["id"]])
        assert _heard(conn) == [f"exit:{row['id']}"]
        db.execute_update("UPDATE position_tracking SET exit_approved = true WHERE id = %s",
                          [row["id"]])  # already true: nothing
        assert _heard(conn) == []
    finally:
        conn.close()


def test_a_failing_callback_never_leaves_a_dead_listener_that_says_up(db, db_params):
    """The listener's thread survives an error in what it calls: it reconnects (a catch-up
    follows), and the next notification is heard."""
    heard: list[str] = []

    def on_wake(job: str, payload: str) -> None:
        heard.append(payload)
        if len(heard) == 1:
            raise RuntimeError("a bug in the dispatcher")

    listener = NotifyListener(db_params, db_params, on_wake, lambda: None,
                              retry_seconds=0.1).start()
    try:
        wait_for(lambda: listener.state == UP)
        first = add_decision(db, entry())
        wait_for(lambda: listener.connections >= 2 and listener.state == UP)
        second = add_decision(db, entry())
        wait_for(lambda: f"decision:{second}" in heard)
        assert heard[0] == f"decision:{first}"
    finally:
        listener.stop()


def test_a_reconnection_that_does_not_hear_itself_is_tried_again(db, db_params):
    """Only the first self-test decides "unsupported" (a proxy); after a drop, not hearing
    itself (a server still restarting, a slow machine) is a connection still lost."""
    listener = NotifyListener(db_params, db_params, lambda job, payload: None, lambda: None,
                              retry_seconds=0.1, selftest_seconds=0.5).start()
    try:
        wait_for(lambda: listener.state == UP)
        listener._listen_config = {**db_params, "dbname": "postgres"}  # hears nothing of ours
        db.execute_query("SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity "
                         "WHERE application_name = 'trading-monitor notify listener' "
                         "AND datname = current_database()")
        wait_for(lambda: listener.state == DOWN)
        time.sleep(1.5)  # several failed self-tests
        assert listener.state == DOWN and listener.connections == 1
        listener._listen_config = db_params
        wait_for(lambda: listener.state == UP and listener.connections == 2)
    finally:
        listener.stop()
