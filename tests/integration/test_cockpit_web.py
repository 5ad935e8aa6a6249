"""The cockpit over real HTTP against the real database and paper exchange: the page's
protection figures, /healthz's status codes, the kill switch and resume through a token
session, and the security rules (no token: nothing changes; no secret shown; no open bind)."""

from __future__ import annotations

import logging
import re
import socket
from decimal import Decimal

import pytest
import requests

from tests.cockpit_fixtures import TOKEN, confirmed_of, csrf_of, hold, login, start
from trading_monitor.exceptions import ConfigError
from trading_monitor.web.auth import is_loopback

D = Decimal


def _kill_switch(db) -> str | None:
    rows = db.named("system_value", {"key": "kill_switch"})
    return rows[0]["value"] if rows else None


def _events(db) -> int:
    return len(db.execute_query("SELECT id FROM event_log"))


def test_the_page_shows_each_stop_and_the_dollars_at_risk(db, jobs, broker, cockpit, exchange):
    trades = hold(db, jobs)
    page = requests.get(cockpit.url + "/", timeout=10)
    assert page.status_code == 200 and 'http-equiv="refresh"' in page.text
    marks = {r["symbol"]: D(r["current_price"]) for r in db.query("position_tracking")}
    aapl = (marks["AAPL"] - D("175.00")) * 10
    msft = (marks["MSFT"] - D("410.00")) * 20
    card = page.text.split(f"id='trade-{trades['AAPL']}'")[1].split("</div>")[0]
    assert "stop <span class='stop-price'>175</span> at the broker" in card
    assert f"${aapl:,.2f}</span> at risk" in card and "target 195" in card
    entry = D(db.get_by_id("trade_journal", trades["AAPL"])["actual_entry_price"])
    assert f"-${(entry - D('175')) * 10:,.2f}</span></span> vs entry at the stop" in card
    assert f"${aapl + msft:,.2f}" in page.text.split("id='total-at-risk'")[1][:200]
    assert "All 2 position(s) protected" in page.text
    assert "✓ broker holds stop 175 for 10 shares (read " in card
    assert "Log in" in page.text and "/confirm/flatten" not in page.text  # no session
    # Nothing loaded from elsewhere, no script: one document, and the browser is told so.
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "<script" not in page.text and not re.search(r"(src|href)=['\"]?(https?:)?//",
                                                        page.text)
    assert 'name="viewport" content="width=device-width' in page.text  # a phone's width
    # What happened: today's decisions with their outcomes, each job's last run, alerts.
    decisions = page.text.split("id='decisions'")[1].split("</table>")[0]
    assert decisions.count("EXECUTED") == 2 and "AAPL" in decisions and "MSFT" in decisions
    jobs = page.text.split("id='jobs'")[1].split("</table>")[0]
    assert "<td>order_executor</td><td>SUCCEEDED</td>" in jobs
    assert "<td>position_monitor</td><td>SUCCEEDED</td>" in jobs
    assert "id='alerts'" in page.text and "id='halts'" in page.text


def test_a_stop_the_broker_no_longer_holds_is_shown_in_red(db, jobs, broker, cockpit):
    trades = hold(db, jobs)
    [stop] = [o for o in db.query("order_execution", {"trade_journal_id": trades["AAPL"]})
              if o["order_role"] == "STOP_LOSS"]
    broker.cancel_order(stop["alpaca_order_id"])  # by hand at the broker: the books lag
    page = requests.get(cockpit.url + "/", timeout=10).text
    card = page.split(f"id='trade-{trades['AAPL']}'")[1].split("</div>")[0]
    assert "✗ the broker lists NONE of the stops of this trade" in card
    assert f"broker does not confirm those of #{trades['AAPL']} AAPL" in page
    other = page.split(f"id='trade-{trades['MSFT']}'")[1].split("</div>")[0]
    assert "✓ broker holds stop 410 for 20 shares" in other


def test_healthz_answers_200_for_ok_or_warning_and_503_for_critical(db, cockpit):
    critical = requests.get(cockpit.url + "/healthz", timeout=30)
    assert critical.status_code == 503 and critical.json()["status"] == "CRITICAL"  # no daemon
    db.execute_update("INSERT INTO daemon_heartbeat (host, pid, role, started_at, beat_at) "
                      "VALUES ('box', 1, 'leader', now(), now())")
    ok = requests.get(cockpit.url + "/healthz", timeout=30)
    assert ok.status_code == 200 and ok.json()["status"] == "OK", ok.json()["summary"]
    db.execute_update("INSERT INTO system_state (key, value, reason) "
                      "VALUES ('kill_switch', 'on', 'test')")
    warning = requests.get(cockpit.url + "/healthz", timeout=30)
    assert warning.status_code == 200 and warning.json()["status"] == "WARNING"


def test_a_request_without_the_token_changes_nothing(db, jobs, cockpit, exchange):
    trades = hold(db, jobs)
    before, orders = _events(db), len(exchange.control.orders())
    anonymous = requests.Session()
    for path in ("/action/kill?flatten=1", "/action/resume", f"/action/flatten/{trades['AAPL']}"):
        refused = anonymous.post(cockpit.url + path, data={"reason": "x", "csrf": "guess",
                                                          "confirmed": "close 10 AAPL"},
                                 timeout=10)
        assert refused.status_code == 403, path
    assert anonymous.get(cockpit.url + "/confirm/kill", timeout=10).status_code == 403
    wrong = login(cockpit.url, token="not-the-token-at-all")
    assert wrong.get(cockpit.url + "/confirm/kill", timeout=10).status_code == 403
    # Logged in, but the form's CSRF token missing, or posted from another site:
    http = login(cockpit.url)
    ask = http.get(cockpit.url + "/confirm/kill?flatten=1", timeout=10)
    form = {"reason": "test", "confirmed": confirmed_of(ask.text)}
    assert http.post(cockpit.url + "/action/kill?flatten=1", data=form,
                     timeout=10).status_code == 403
    assert http.post(cockpit.url + "/action/kill?flatten=1",
                     data={**form, "csrf": csrf_of(ask.text)},
                     headers={"Origin": "https://evil.example"}, timeout=10).status_code == 403
    assert _kill_switch(db) in (None, "", "off") and _events(db) == before
    assert len(exchange.control.orders()) == orders
    assert all(t["status"] == "POSITION" for t in db.query("trade_journal"))


def test_a_read_only_cockpit_offers_no_login(db_params, exchange, db):
    served = start(db_params, exchange, token=None)
    try:
        page = requests.get(served.url + "/", timeout=10)
        assert "Read-only: COCKPIT_TOKEN is not set" in page.text
        assert requests.get(served.url + "/login", timeout=10).status_code == 403
        assert requests.post(served.url + "/action/resume", data={"reason": "x"},
                             timeout=10).status_code == 403
    finally:
        served.stop()


def test_the_kill_switch_and_resume_from_the_page(db, jobs, cockpit):
    hold(db, jobs)
    http = login(cockpit.url)
    page = http.get(cockpit.url + "/", timeout=10).text
    assert "id='kill'" in page and "id='logout'" in page
    ask = http.get(cockpit.url + "/confirm/kill", timeout=10)
    assert "keep 10 AAPL, 20 MSFT with their stops" in ask.text
    done = http.post(cockpit.url + "/action/kill", timeout=120, data={
        "csrf": csrf_of(ask.text), "confirmed": confirmed_of(ask.text), "reason": "drill"})
    assert done.status_code == 200 and "kill switch ON" in done.text
    assert _kill_switch(db) == "on"
    assert all(t["status"] == "POSITION" for t in db.query("trade_journal"))  # kept
    [audit] = db.query("event_log", {"event": "cockpit_action"})
    assert audit["detail"]["source"].startswith("cockpit web page (127.0.0.1")
    assert audit["detail"]["confirmed"] == "keep 10 AAPL, 20 MSFT with their stops"
    ask = http.get(cockpit.url + "/confirm/resume", timeout=10)
    assert "clear kill_switch" in ask.text
    done = http.post(cockpit.url + "/action/resume", timeout=60, data={
        "csrf": csrf_of(ask.text), "confirmed": confirmed_of(ask.text), "reason": "drill over"})
    assert done.status_code == 200 and "cleared: kill_switch" in done.text
    assert _kill_switch(db) in (None, "", "off")


def test_a_stale_confirmation_is_refused(db, jobs, cockpit):
    hold(db, jobs)
    http = login(cockpit.url)
    ask = http.get(cockpit.url + "/confirm/kill?flatten=1", timeout=10)
    refused = http.post(cockpit.url + "/action/kill?flatten=1", timeout=10, data={
        "csrf": csrf_of(ask.text), "confirmed": "close 10 AAPL", "reason": "x"})
    assert refused.status_code == 409 and _kill_switch(db) in (None, "", "off")


SECRETS = {  # every secret setting a trader may have, each a value no page may show
    "HEARTBEAT_URL": "https://hc-ping.com/5e3f0d2a-secret-check-uuid",
    "NOTIFY_URLS": "tgram://123456:secret-bot-token/987654",
    "ALERT_URLS": "ntfys://secret-alert-topic", "REPORT_URLS": "mailtos://me:secret-mail@x.org",
    "POSTGRES_PASSWORD": "secret-db-password-3c9a"}


def test_no_secret_on_the_page_in_metrics_or_healthz(db, jobs, db_params, settings, exchange):
    hold(db, jobs)
    # The database password in the cockpit's connection too (the test server trusts any).
    served = start({**db_params, "password": SECRETS["POSTGRES_PASSWORD"]}, exchange,
                   **SECRETS)
    try:
        http = login(served.url)
        trade = db.query("trade_journal", {"status": "POSITION"})[0]["id"]
        texts = [http.get(served.url + p, timeout=30).text
                 for p in ("/", "/metrics", "/healthz", "/confirm/kill?flatten=1", "/login",
                           "/confirm/resume", f"/confirm/flatten/{trade}", "/nothing-here")]
        texts.append(requests.get(served.url + "/", timeout=30).text)  # read-only view
        texts.append(str(http.cookies.get_dict()))
    finally:
        served.stop()
    assert "All 2 position(s) protected" in texts[0]  # the page itself was read
    secrets = [TOKEN, settings.alpaca_secret_key.get_secret_value(),
               settings.alpaca_api_key.get_secret_value(), *SECRETS.values(),
               "5e3f0d2a-secret-check-uuid", "secret-bot-token"]
    for text in texts:
        for secret in secrets:
            assert secret not in text, secret
    session = next(c for c in http.cookies if c.name == "tm_cockpit_session")
    assert session.has_nonstandard_attr("HttpOnly") or "httponly" in str(
        session._rest).lower()


def test_a_non_loopback_bind_without_a_token_is_refused(db_params, exchange):
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    with pytest.raises(ConfigError, match="COCKPIT_TOKEN is not set"):
        start(db_params, exchange, token=None, COCKPIT_BIND="0.0.0.0")


def test_a_busy_port_is_a_warning_and_nothing_more(db_params, exchange, caplog):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        from trading_monitor.web.server import Cockpit
        first = start(db_params, exchange)
        first.stop()
        busy = Cockpit(first.routes.actor, port=holder.getsockname()[1])
        with caplog.at_level(logging.WARNING):
            assert busy.start() is False
        assert "trading goes on without it" in caplog.text
    finally:
        holder.close()


def test_the_daemon_refuses_to_start_on_an_open_bind_without_a_token(monkeypatch, tmp_path,
                                                                     exchange):
    from tests.conftest import exchange_env
    from trading_monitor.daemon import main as daemon_main

    monkeypatch.chdir(tmp_path)  # no stray .env
    for key, value in exchange_env(exchange, COCKPIT_BIND="0.0.0.0").items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("COCKPIT_TOKEN", raising=False)
    assert daemon_main.main([]) == 2  # a configuration error, before anything starts


def test_on_a_network_address_the_page_and_metrics_need_the_token(db_params, exchange, db):
    served = start(db_params, exchange, COCKPIT_BIND="0.0.0.0")  # token set: allowed
    try:
        local = f"http://127.0.0.1:{served.port}"
        page = requests.get(local + "/", timeout=10, allow_redirects=False)
        assert page.status_code == 303 and page.headers["Location"] == "/login"
        assert requests.get(local + "/metrics", timeout=10).status_code == 401
        assert requests.get(local + "/metrics", timeout=30, headers={
            "Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert requests.get(local + "/healthz", timeout=30).status_code in (200, 503)
        assert login(local).get(local + "/", timeout=30).status_code == 200
    finally:
        served.stop()


def test_two_daemon_processes_on_one_port_the_second_warns_and_trades_on(db, db_params,
                                                                          exchange, tmp_path):
    """`trading-monitor run` twice on one host with one COCKPIT_PORT: the first serves the
    cockpit (leader or standby alike); the second logs a WARNING and keeps beating."""
    from tests.cockpit_fixtures import free_port, wait_for
    from tests.drills.test_daemon_process import _start, _stop

    port = free_port()
    first = _start(db_params, exchange, tmp_path, COCKPIT_PORT=str(port))
    second = None
    try:
        wait_for("the first cockpit", lambda: requests.get(
            f"http://127.0.0.1:{port}/metrics", timeout=5).ok)
        second = _start(db_params, exchange, tmp_path, COCKPIT_PORT=str(port))
        wait_for("both daemons beating", lambda: len(db.query("daemon_heartbeat")) == 2)
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        assert "trading_monitor_leader " in metrics
    finally:
        codes = [_stop(p) for p in (first, second) if p is not None]
    assert codes == [0, 0]
    assert second is not None and second.stdout is not None
    out = second.stdout.read().decode()
    assert f"the cockpit could not listen on 127.0.0.1:{port}" in out, out[-2000:]
    assert "Traceback" not in out


def test_the_kill_switch_with_flatten_from_the_page_closes_every_position(db, jobs, broker,
                                                                          cockpit):
    hold(db, jobs)
    http = login(cockpit.url)
    ask = http.get(cockpit.url + "/confirm/kill?flatten=1", timeout=10)
    assert "close 10 AAPL, 20 MSFT" in ask.text
    done = http.post(cockpit.url + "/action/kill?flatten=1", timeout=120, data={
        "csrf": csrf_of(ask.text), "confirmed": confirmed_of(ask.text), "reason": "drill"})
    assert done.status_code == 200 and "kill switch ON" in done.text, done.text
    assert _kill_switch(db) == "on"
    assert not [p for p in broker.get_positions() if p.qty]
    [event] = db.query("event_log", {"event": "kill_switch", "entity": "system_state"})[-1:]
    assert event["detail"]["flatten"] is True and len(event["detail"]["flattened"]) == 2


def test_the_page_says_so_when_the_books_cannot_be_read(db_params, exchange):
    served = start({**db_params, "dbname": "no_such_database"}, exchange)
    try:
        page = requests.get(served.url + "/", timeout=30)
        assert page.status_code == 503 and "The books could not be read" in page.text
        assert requests.get(served.url + "/healthz", timeout=30).status_code == 503
        metrics = requests.get(served.url + "/metrics", timeout=30).text
        assert "trading_monitor_books_up 0.0" in metrics
    finally:
        served.stop()


def test_an_unprotected_position_and_an_incident_lead_the_page(db, jobs, broker, cockpit):
    import json

    trades = hold(db, jobs)
    # The books after a sync that found AAPL's stop cancelled, and an open incident (issue 27).
    db.execute_update("UPDATE order_execution SET order_status = 'canceled' "
                      "WHERE trade_journal_id = %s AND order_role = 'STOP_LOSS'",
                      [trades["AAPL"]])
    db.named_update("set_system_value", {"key": "reconciliation_incident", "value": json.dumps(
        {"cause": "2 trades gone at the broker", "trades": [trades["MSFT"]],
         "symbols": {str(trades["MSFT"]): "MSFT"}, "opened_at": "2026-11-20T15:00:00+00:00"}),
        "reason": "test"})
    page = requests.get(cockpit.url + "/", timeout=10).text
    banner = page.split("id='protection'>")[1].split("</div>")[0]
    assert banner == f"UNPROTECTED: #{trades['AAPL']} AAPL: 10 of 10 shares without a stop"
    assert "NO live stop at the broker" in page
    assert "$356.00" not in page and " + unbounded" in page
    incident = page.split("id='incident'>")[1].split("</div>")[0]
    assert f"nothing booked for trade #{trades['MSFT']} MSFT" in incident
    table = page.split("id='reconciliation'>")[1].split("</table>")[0]
    assert "INCIDENT: 2 trades gone at the broker" in table
    metrics = requests.get(cockpit.url + "/metrics", timeout=30).text
    assert "trading_monitor_unprotected_positions 1.0" in metrics
    assert "trading_monitor_unprotected_shares 10.0" in metrics
    assert "trading_monitor_reconciliation_incident 1.0" in metrics


def test_an_exit_still_working_is_shown_with_its_start(db, jobs, cockpit):
    from datetime import datetime, timezone

    trades = hold(db, jobs)
    since = datetime(2026, 11, 20, 15, 1, 2, tzinfo=timezone.utc)
    db.insert("order_execution", {  # the books while a market exit rests (a halted symbol)
        "trade_journal_id": trades["MSFT"], "client_order_id": "tm-test-exit",
        "alpaca_order_id": "exit-1", "order_role": "EXIT", "purpose": "KILL_SWITCH",
        "symbol": "MSFT", "side": "sell", "order_type": "market", "time_in_force": "day",
        "qty": 20, "order_status": "new", "submitted_at": since})
    page = requests.get(cockpit.url + "/", timeout=10).text
    card = page.split(f"id='trade-{trades['MSFT']}'")[1].split("</div>")[0]
    assert "exit working since 2026-11-20 10:01:02 EST (KILL_SWITCH)" in card
    other = page.split(f"id='trade-{trades['AAPL']}'")[1].split("</div>")[0]
    assert "exit working" not in other


def test_the_equity_curve_follows_each_position_monitor_run(db, jobs, broker, cockpit, exchange):
    hold(db, jobs)
    for aapl, msft in (("183.00", "425.00"), ("179.50", "418.00"), ("184.20", "426.10")):
        exchange.control.advance(600)
        exchange.control.set_prices({"AAPL": aapl, "MSFT": msft})
        jobs.position_monitor()
    equity = D(broker.get_account().equity)
    runs = db.execute_query("SELECT summary->>'equity' AS e FROM job_run WHERE job_name = "
                            "'position_monitor' ORDER BY id")
    assert D(runs[-1]["e"]) == equity and len({r["e"] for r in runs}) >= 3
    page = requests.get(cockpit.url + "/", timeout=10).text
    assert f"last <b>${equity:,.2f}</b>" in page.split("id='equity-last'")[1][:200]
    points = page.split("id='equity'")[1].split("points='")[1].split("'")[0].split()
    assert len(points) >= 4 and len({p.split(",")[1] for p in points}) >= 3  # not flat


def test_the_leader_and_the_standby_both_serve_the_cockpit(db, db_params, exchange, tmp_path):
    """Two daemons, two ports: each serves its page and /metrics; one says it leads."""
    from tests.cockpit_fixtures import free_port, wait_for
    from tests.drills.test_daemon_process import _start, _stop

    ports = [free_port(), free_port()]
    procs = []
    try:
        for port in ports:
            procs.append(_start(db_params, exchange, tmp_path, COCKPIT_PORT=str(port)))

        def leaders() -> list[str] | None:
            found = []
            for port in ports:
                text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
                found += [line.split()[1] for line in text.splitlines()
                          if line.startswith("trading_monitor_leader ")]
            return sorted(found) if sorted(found) == ["0.0", "1.0"] else None
        wait_for("a leader and a standby, both serving", leaders)
        for port in ports:
            page = requests.get(f"http://127.0.0.1:{port}/", timeout=10)
            assert page.status_code == 200 and "id='protection'" in page.text
    finally:
        codes = [_stop(p) for p in procs]
    assert codes == [0, 0]
