"""The daily report: a realistic day seeded by the real jobs against the paper exchange, then
the report's JSON figures checked against the fills, its PNG and Markdown, the daemon's
daily_report job on the schedule and its delivery through apprise."""

from __future__ import annotations

import base64
import json
import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import pytz

from tests.conftest import exchange_env
from tests.helpers import (
    add_decision,
    entry,
    exchange_now,
    outcome,
)
from trading_monitor.db.connection import TradingDB
from trading_monitor.report import ReportFiles, write_report
from trading_monitor.report.markdown import SECTIONS
from trading_monitor.settings.config import load_settings

D = Decimal
NY = pytz.timezone("America/New_York")
DAY = date(2026, 11, 20)  # the exchange fixture's Friday
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


STAGED = {"PROTECTION_MODE": "staged", "RECONCILE_GRACE_SECONDS": "60",
          "BLOCK_DUPLICATE_ENTRY": "false", "MAX_DAILY_LOSS": "off"}


def _settings(exchange, **env):
    return load_settings(exchange_env(exchange, **{**STAGED, **env}), need_broker=True)


def _trade_of(db: TradingDB, decision_id: int) -> int:
    return int(outcome(db, decision_id)["trade_journal_id"])


@pytest.fixture
def day(db, jobs, exchange):
    """Friday 20 November 2026 as the jobs live it: AAPL stopped out (a loss), MSFT at its
    take profit (a win), an NVDA short at its target waiting for approval, TSLA still open,
    an AMD entry cancelled before it filled, one decision rejected (no stop loss) and one
    skipped (a second CANCEL of the same entry)."""
    jobs = jobs.with_settings(**STAGED)
    aapl = add_decision(db, entry("AAPL", entry_price="181.00", stop_loss="175.00",
                                  take_profit="195.00", quantity=10))
    msft = add_decision(db, entry("MSFT", entry_price="421.00", stop_loss="410.00",
                                  take_profit="440.00", quantity=5))
    nvda = add_decision(db, entry("NVDA", side="SELL", trade_style="DAYTRADE",
                                  entry_price="129.50", stop_loss="135.00",
                                  take_profit="120.00", quantity=20))
    tsla = add_decision(db, entry("TSLA", entry_price="251.00", stop_loss="240.00",
                                  take_profit="280.00", quantity=4))
    no_stop = add_decision(db, entry("SPY", stop_loss=None, entry_price="600.00"))
    resting = add_decision(db, entry("AMD", entry_price="140.00", stop_loss="135.00",
                                     take_profit="160.00"))
    jobs.executor()
    amd = _trade_of(db, resting)
    cancels = [add_decision(db, {"ticker": "AMD", "primary_action": "CANCEL",
                                 "existing_trade_journal_id": amd, "reasoning": why},
                            existing_trade_journal_id=amd)
               for why in ("earnings moved up", "n8n wrote it twice")]
    jobs.executor()
    assert outcome(db, cancels[1])["terminal_state"] == "SKIPPED"
    jobs.monitors(advance=1)
    ids = {name: _trade_of(db, d) for name, d in
           (("aapl", aapl), ("msft", msft), ("nvda", nvda), ("tsla", tsla))}
    assert all(db.get_by_id("trade_journal", j)["status"] == "POSITION" for j in ids.values())
    exchange.control.set_prices({"AAPL": "174.00", "MSFT": "441.00", "NVDA": "119.00",
                                 "TSLA": "255.00"})
    for _ in range(3):
        jobs.monitors(advance=30)
    assert db.get_by_id("trade_journal", ids["aapl"])["status"] == "CLOSED"
    assert db.get_by_id("trade_journal", ids["msft"])["status"] == "CLOSED"
    return {"settings": jobs.settings, "trades": ids, "rejected": no_stop, "skipped": cancels[1]}


def _report(db, tmp_path) -> tuple[ReportFiles, dict]:
    files = write_report(db, DAY, tmp_path / "reports")
    return files, json.loads(files.json.read_text())


def test_the_report_of_a_day_matches_the_fills(db, day, tmp_path):
    files, report = _report(db, tmp_path)
    ids = day["trades"]
    closed = {t["trade_id"]: t for t in report["trades_closed"]}
    assert set(closed) == {ids["aapl"], ids["msft"]}
    fills = db.execute_query(
        "SELECT trade_journal_id, sum(CASE WHEN side = 'sell' THEN qty * price "
        "ELSE -qty * price END) AS cash FROM fills GROUP BY 1")
    cash = {r["trade_journal_id"]: r["cash"] for r in fills}
    for jid in (ids["aapl"], ids["msft"]):
        assert D(closed[jid]["realised_pnl"]) == cash[jid]  # a long: sells minus buys
    assert D(report["pnl"]["realised"]) == cash[ids["aapl"]] + cash[ids["msft"]]
    assert report["pnl"]["trades_closed"] == 2
    assert (report["pnl"]["winners"], report["pnl"]["losers"]) == (1, 1)
    assert {t["trade_id"] for t in report["trades_opened"]} == set(ids.values())
    marks = {r["trade_journal_id"]: r["unrealized_pnl"] for r in db.query("position_tracking")}
    assert D(report["pnl"]["unrealised"]) == sum(marks.values())
    assert D(report["pnl"]["total"]) == D(report["pnl"]["realised"]) + sum(marks.values())


def test_r_multiples_come_from_the_entry_and_the_first_stop(db, day, tmp_path):
    _, report = _report(db, tmp_path)
    ids = day["trades"]
    closed = {t["trade_id"]: t for t in report["trades_closed"]}
    for jid, first_stop in ((ids["aapl"], D("175.00")), (ids["msft"], D("410.00"))):
        j = db.get_by_id("trade_journal", jid)
        per_share = (j["exit_price"] - j["actual_entry_price"])  # both longs
        r = (per_share / (j["actual_entry_price"] - first_stop)).quantize(D("0.01"))
        assert D(closed[jid]["r_multiple"]) == r
        assert D(closed[jid]["first_stop"]) == first_stop
    assert D(closed[ids["aapl"]]["r_multiple"]) < -1 < 2 < D(closed[ids["msft"]]["r_multiple"])
    chart_rs = {r["trade_id"]: D(r["r_multiple"]) for r in report["history"]["r_multiples"]}
    assert chart_rs == {jid: D(closed[jid]["r_multiple"]) for jid in closed}
    # The short's stop trailed to break-even; its R still counts from the first stop.
    nvda = next(t for t in report["open_positions"] if t["trade_id"] == ids["nvda"])
    assert D(nvda["first_stop"]) == D("135.00") and D(nvda["initial_risk_per_share"]) == (
        D("135.00") - D(nvda["entry_price"]))


def test_open_positions_carry_their_live_stops_and_targets_wait_for_approval(db, day,
                                                                             tmp_path):
    _, report = _report(db, tmp_path)
    ids = day["trades"]
    live = {r["trade_journal_id"]: r["stop_price"] for r in db.execute_query(
        "SELECT trade_journal_id, stop_price FROM order_execution WHERE order_role = "
        "'STOP_LOSS' AND order_status IN ('new', 'accepted', 'held')")}
    positions = {t["trade_id"]: t for t in report["open_positions"]}
    assert set(positions) == {ids["nvda"], ids["tsla"]}
    for jid, t in positions.items():
        assert t["protected"] is True and D(t["stop"]) == live[jid]
        assert D(t["qty"]) == db.query("position_tracking", {"trade_journal_id": jid})[0]["qty"]
    [target] = report["targets_awaiting_approval"]
    assert (target["trade_id"], D(target["target"])) == (ids["nvda"], D("120.00"))
    assert target["approve_with"] == f"trading-monitor approve-exit {ids['nvda']}"


def test_rejected_and_skipped_decisions_are_listed_with_their_reasons(db, day, tmp_path):
    _, report = _report(db, tmp_path)
    listed = {d["decision_id"]: d for d in report["decisions"]["not_executed"]}
    assert set(listed) == {day["rejected"], day["skipped"]}
    for decision_id in listed:
        assert listed[decision_id]["reason"] == outcome(db, decision_id)["reason"]
    assert listed[day["rejected"]]["state"] == "REJECTED"
    assert listed[day["skipped"]]["state"] == "SKIPPED"
    assert report["decisions"]["by_state"] == {"EXECUTED": 6, "REJECTED": 1, "SKIPPED": 1}


def test_slippage_jobs_alerts_and_the_files(db, day, tmp_path):
    db.insert("alert", {"run_id": db.query("job_run")[0]["run_id"], "kind": "unprotected",
                        "message": "ALERT trade #9 has no live stop", "delivery": "sent"})
    files, report = _report(db, tmp_path)
    slips = {(s["trade_id"], s["leg"]): s for s in report["slippage"]}
    for jid in day["trades"].values():
        j = db.get_by_id("trade_journal", jid)
        assert D(slips[(jid, "entry")]["bps"]) == j["entry_slippage_bps"]
    assert len(slips) == 4 + 2  # every entry, and the two exits
    jobs = {j["job_name"]: j for j in report["jobs"]}
    runs = db.execute_query("SELECT job_name, count(*) AS n FROM job_run GROUP BY 1")
    assert {r["job_name"]: r["n"] for r in runs} == {k: j["runs"] for k, j in jobs.items()}
    assert all(j["failed"] == 0 and j["last_status"] == "SUCCEEDED" for j in jobs.values())
    assert [a["kind"] for a in report["alerts"]] == ["unprotected"]
    assert files.chart.read_bytes().startswith(PNG_MAGIC) and files.chart.stat().st_size > 5000
    text = files.markdown.read_text()
    for section in SECTIONS:
        assert f"\n## {section}\n" in text
    assert f"![equity, daily P&L and R multiples]({files.chart.name})" in text
    assert "trading-monitor approve-exit" in text and "no live stop" in text
    assert not list(files.json.parent.glob("*.part"))


def test_a_day_without_activity_still_writes_every_section(db, tmp_path):
    files, report = _report(db, tmp_path)
    assert report["pnl"]["realised"] == "0" and report["trades_closed"] == []
    assert files.chart.read_bytes().startswith(PNG_MAGIC)
    assert "_no trade closed_" in files.markdown.read_text()


# -- the daemon's daily_report job ----------------------------------------------------------

def _report_times(spec, start: datetime, end: datetime) -> list[datetime]:
    """Fire times of `spec` its TradingCalendar lets run (the paper exchange's NYSE rules)."""
    from trading_monitor.broker.models import CalendarDay
    from trading_monitor.daemon.schedule import TradingCalendar
    from trading_monitor.paper_exchange import clock as sim

    calendar = TradingCalendar(lambda a, b: [
        CalendarDay(s.day, s.open.astimezone(NY), s.close.astimezone(NY))
        for s in sim.sessions_between(a, b)], 10)
    out, t = [], start
    while (t := spec.trigger.get_next_fire_time(None, t)) is not None and t <= end:
        if calendar.allows(spec, t):
            out.append(t)
        t += timedelta(seconds=1)
    return out


def test_the_report_job_fires_at_report_time_on_trading_days_only():
    from trading_monitor.daemon.schedule import job_specs

    week = (NY.localize(datetime(2026, 11, 23)), NY.localize(datetime(2026, 11, 30)))
    [spec] = [s for s in job_specs(load_settings({})) if s.job_id == "daily_report"]
    assert [t.strftime("%a %d %H:%M") for t in _report_times(spec, *week)] == [
        "Mon 23 16:30", "Tue 24 16:30", "Wed 25 16:30", "Fri 27 16:30"]  # Thu 26: Thanksgiving
    [late] = [s for s in job_specs(load_settings({"REPORT_TIME": "17:45"}))
              if s.job_id == "daily_report"]
    assert _report_times(late, *week)[0].strftime("%a %H:%M") == "Mon 17:45"


def _daemon(db_params, exchange, **env):
    from trading_monitor.broker.alpaca import AlpacaBroker
    from trading_monitor.broker.transport import RequestBudget
    from trading_monitor.daemon.app import Daemon

    settings = _settings(exchange, **env)
    return Daemon(settings, db_params, AlpacaBroker(settings, budget=RequestBudget(100_000)),
                  now=exchange.venue.clock.now)


def test_the_daemon_writes_and_sends_the_report_after_the_close(db, db_params, day, exchange,
                                                               endpoint, tmp_path):
    exchange.control.set_clock(datetime(2026, 11, 20, 21, 30, tzinfo=timezone.utc))  # 16:30
    daemon = _daemon(db_params, exchange, REPORT_DIR=str(tmp_path / "out"),
                     REPORT_URLS=endpoint.url)
    try:
        assert daemon.leadership.try_acquire()
        job = daemon.scheduler.get_job("daily_report")
        job.func()
        job.func()  # a second run (a restart, the demo's fast schedule) sends nothing more
    finally:
        daemon.close()
    [sent] = endpoint.received
    assert sent["title"] == "trading-monitor report 2026-11-20"
    assert "## Trades closed" in sent["message"] and "approve-exit" in sent["message"]
    chart = next(a for a in sent["attachments"] if a["filename"].endswith(".png"))
    assert base64.b64decode(chart["base64"]).startswith(PNG_MAGIC)
    runs = db.query("job_run", {"job_name": "daily_report"})
    assert [(r["status"], r["summary"]["delivery"]) for r in runs] == [
        ("SUCCEEDED", "sent"), ("SUCCEEDED", "already_sent")]
    assert runs[0]["started_at"] == datetime(2026, 11, 20, 21, 30, tzinfo=timezone.utc)
    assert runs[0]["broker_requests"] == 0
    assert (tmp_path / "out" / "report-2026-11-20.json").exists()


def test_no_report_on_a_holiday(db, db_params, exchange, tmp_path):
    exchange.control.set_clock(datetime(2026, 11, 26, 21, 30, tzinfo=timezone.utc))  # Thanksg.
    daemon = _daemon(db_params, exchange, REPORT_DIR=str(tmp_path / "out"))
    try:
        assert daemon.leadership.try_acquire()
        daemon.scheduler.get_job("daily_report").func()
    finally:
        daemon.close()
    assert not db.query("job_run", {"job_name": "daily_report"})
    assert not (tmp_path / "out").exists()


def test_a_failed_delivery_is_recorded_and_logged_without_the_url(db, db_params, exchange,
                                                                 tmp_path, caplog):
    from trading_monitor.report.job import daily_report

    closed = HTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = closed.server_port
    closed.server_close()  # nothing listens there now
    url = f"json://reporter:s3cret-pass@127.0.0.1:{port}/"
    settings = _settings(exchange, REPORT_DIR=str(tmp_path), REPORT_URLS=url)
    result = daily_report(db_params, settings, now=exchange_now)
    assert result.delivery.status == "failed" and result.files.chart.exists()
    [row] = db.query("job_run", {"job_name": "daily_report"})
    assert row["status"] == "PARTIAL" and row["error"].startswith("report not delivered")
    assert row["summary"]["delivery"] == "failed"
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert any("not delivered" in r.getMessage() for r in errors)
    assert not any(r.getMessage().startswith("ALERT") for r in errors)
    everything = " ".join(r.getMessage() for r in caplog.records) + str(row) + repr(settings)
    assert "s3cret-pass" not in everything


def test_the_report_urls_are_redacted_from_the_daemon_logs(exchange):
    from trading_monitor.daemon.main import _secrets

    url = "mailto://trader:app-pass-123@gmail.com"
    secrets = _secrets(_settings(exchange, REPORT_URLS=f"{url},json://localhost/"))
    assert url in secrets and "app-pass-123" in secrets


def test_alert_urls_and_the_database_url_are_redacted_url_by_url(exchange):
    from trading_monitor.daemon.main import _secrets

    secrets = _secrets(_settings(
        exchange, ALERT_URLS="tgram://bot-token-987/chat,mailto://ops:alert-pw-55@example.com",
        DATABASE_URL="postgresql://tm:db-pw-321@db.local/trading"))
    assert {"tgram://bot-token-987/chat", "alert-pw-55", "db-pw-321"} <= set(secrets)


def test_the_report_command_defaults_to_the_jobs_latest_trading_day(db, db_params, day,
                                                                    exchange, tmp_path,
                                                                    monkeypatch, capsys):
    from trading_monitor.cli.report import latest_trading_day, main

    assert latest_trading_day(NY.localize(datetime(2026, 11, 22, 12, 0))) == DAY  # a Sunday
    assert latest_trading_day(NY.localize(datetime(2026, 11, 23, 8, 0))) == DAY  # Mon early
    assert latest_trading_day(NY.localize(datetime(2026, 11, 23, 16, 30))) == date(2026, 11, 23)
    for key, value in exchange_env(exchange).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DATABASE_URL", " ".join(f"{k}={v}" for k, v in db_params.items() if v))
    assert main(["--out", str(tmp_path)]) == 0  # CLOCK_SOURCE=broker: the jobs' recorded day
    assert "report of 2026-11-20" in capsys.readouterr().out
    assert json.loads((tmp_path / "report-2026-11-20.json").read_text())["trades_closed"]
    assert main(["--date", "2026-11-19", "--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "report-2026-11-19.json").read_text())["trades_closed"] == []


# -- the pure parts ---------------------------------------------------------------------------

def _row(**kw):
    base = {"side": "buy", "actual_entry_price": D("100"), "first_stop": D("95"),
            "planned_stop_loss": None, "actual_pnl": D("-30"), "actual_qty": D("5")}
    return {**base, **kw}


def test_r_multiples_by_side_and_without_a_usable_stop():
    from trading_monitor.report.figures import initial_risk, r_multiple

    assert r_multiple(_row()) == D("-1.20")  # lost 6 a share on 5 of risk
    short = _row(side="sell", first_stop=D("104"), actual_pnl=D("40"))  # covered 8 lower
    assert (initial_risk(short), r_multiple(short)) == (D("4"), D("2.00"))
    assert r_multiple(_row(first_stop=None, planned_stop_loss=D("90"))) == D("-0.60")
    assert r_multiple(_row(first_stop=None)) is None  # no stop: no R
    assert r_multiple(_row(first_stop=D("101"))) is None  # a stop above a long's entry


def test_an_unreadable_report_url_fails_without_echoing_it(db, tmp_path):
    from trading_monitor.report.deliver import deliver

    files = write_report(db, DAY, tmp_path)
    result = deliver(files, ["nosuchscheme://user:hunter22@host/"], "report")
    assert result.status == "failed" and "hunter22" not in (result.error or "")
    assert deliver(files, [], "report").status == "not_configured"


def test_money_has_two_decimals_in_the_markdown(db, day, tmp_path):
    files, report = _report(db, tmp_path)
    text = files.markdown.read_text()
    realised = D(report["pnl"]["realised"])
    assert f"Realised P&L: **{realised:,.2f}**" in text
    closed = [line for line in text.splitlines() if line.startswith(f"| {day['trades']['msft']} |")]
    assert closed and all(re.search(r"\| -?[\d,]+\.\d\d \|", line) for line in closed)


def test_an_open_reconciliation_incident_heads_the_summary(db, tmp_path):
    db.execute_update(
        "INSERT INTO system_state (key, value, reason) VALUES ('reconciliation_incident', %s, "
        "'test')", [json.dumps({"cause": "3 of 3 open trades gone at the broker",
                                "trades": [4, 7], "symbols": {"4": "AAPL", "7": "MSFT"},
                                "opened_at": "2026-11-20T15:02:00+00:00"})])
    files, report = _report(db, tmp_path)
    assert report["incident"]["trades"] == [4, 7]
    summary = files.markdown.read_text().split("## Summary")[1].split("##")[0]
    assert summary.strip().startswith("- **Reconciliation incident open** since "
                                      "2026-11-20T15:02:00+00:00: 3 of 3 open trades gone")
    assert "#4 AAPL, #7 MSFT" in summary and "--accept-gone" in summary
    db.execute_update("UPDATE system_state SET value = '' WHERE key = 'reconciliation_incident'")
    files, report = _report(db, tmp_path)
    assert report["incident"] is None and "incident" not in files.markdown.read_text()
