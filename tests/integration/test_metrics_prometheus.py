"""/metrics scraped by a real Prometheus (Debian's `prometheus` package) on a loopback port:
the scraped series asked back through its HTTP API, every panel query of the Grafana
dashboard run against it, and the alert rules loaded, evaluated and checked by promtool.

Without Prometheus these tests skip, except under CI=true, where they fail (.ci/run installs it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.cockpit_fixtures import beat, free_port, hold, wait_for

D = Decimal
ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deployment" / "grafana" / "trading-monitor.json"
RULES = ROOT / "deployment" / "prometheus" / "alerts.yml"
METRICS = {
    "trading_monitor_open_positions", "trading_monitor_unprotected_positions",
    "trading_monitor_unprotected_shares", "trading_monitor_at_risk_dollars",
    "trading_monitor_job_last_success_age_seconds",
    "trading_monitor_job_last_success_timestamp_seconds", "trading_monitor_reconciliation_ok",
    "trading_monitor_reconciliation_incident", "trading_monitor_halt_active",
    "trading_monitor_stream_connected", "trading_monitor_leader",
    "trading_monitor_leader_heartbeat_age_seconds", "trading_monitor_broker_requests",
    "trading_monitor_broker_rate_limited", "trading_monitor_decision_outcomes",
    "trading_monitor_fill_to_stop_seconds", "trading_monitor_decision_to_order_seconds",
    "trading_monitor_pnl_today_dollars", "trading_monitor_equity_dollars",
    "trading_monitor_books_up", "trading_monitor_messages_failed_24h",
}


def need(tool: str) -> str:
    """The tool's path; a skip naming the package, or under CI=true a failure."""
    found = shutil.which(tool)
    if found:
        return found
    message = (f"{tool} is not installed (Debian: apt-get install prometheus); .ci/run "
               "installs it")
    if os.environ.get("CI") == "true":
        pytest.fail(message + ": under CI=true a missing tool fails the run")
    pytest.skip(message)


@pytest.fixture
def prometheus(tmp_path: Path, cockpit: Any) -> Iterator[str]:
    binary = need("prometheus")
    shutil.copy(RULES, tmp_path / "alerts.yml")
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "rule_files: [alerts.yml]\n"
        "scrape_configs:\n  - job_name: trading-monitor\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{cockpit.port}']}}]\n")
    port = free_port()
    proc = subprocess.Popen(
        [binary, f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "prometheus.log").open("w"))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for("prometheus ready", lambda: requests.get(url + "/-/ready", timeout=2).ok)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def query(url: str, expr: str) -> list[dict[str, Any]]:
    answer = requests.get(url + "/api/v1/query", params={"query": expr}, timeout=10).json()
    assert answer["status"] == "success", (expr, answer)
    return list(answer["data"]["result"])


def value(url: str, expr: str) -> Decimal | None:
    found = query(url, expr)
    return Decimal(found[0]["value"][1]) if found else None


def test_metrics_text_names_every_metric(db, jobs, cockpit):
    hold(db, jobs)
    beat(db)
    text = requests.get(cockpit.url + "/metrics", timeout=30).text
    names = {m.name for m in text_string_to_metric_families(text)}
    assert METRICS <= names, METRICS - names


def test_a_real_prometheus_scrapes_the_cockpit(db, jobs, broker, cockpit, prometheus):
    hold(db, jobs)
    beat(db)
    # n8n writes a decision on the machine's clock, the jobs here run on the exchange's: put
    # each decision 3 s before its entry order, as one clock would have it.
    db.execute_update("UPDATE analysis_decision d SET created_at = o.submitted_at - interval "
                      "'3 seconds' FROM order_execution o WHERE o.analysis_decision_id = d.id "
                      "AND o.order_role = 'ENTRY'")
    url = prometheus
    wait_for("two positions scraped", lambda: value(url, "trading_monitor_open_positions") == 2)
    assert value(url, 'up{job="trading-monitor"}') == 1
    assert value(url, "trading_monitor_unprotected_positions") == 0
    assert value(url, "trading_monitor_unprotected_shares") == 0
    assert value(url, "trading_monitor_leader") == 1
    marks = {r["symbol"]: Decimal(r["current_price"]) for r in db.query("position_tracking")}
    risk = (marks["AAPL"] - Decimal("175")) * 10 + (marks["MSFT"] - Decimal("410")) * 20
    assert value(url, "trading_monitor_at_risk_dollars") == risk
    assert value(url, 'trading_monitor_decision_outcomes_total{state="EXECUTED"}') == 2
    assert value(url, 'trading_monitor_fill_to_stop_seconds_count') == 2
    assert value(url, 'trading_monitor_decision_to_order_seconds_count') == 2
    assert value(url, 'trading_monitor_decision_to_order_seconds_sum') == 6
    assert value(url, 'trading_monitor_decision_to_order_seconds_bucket{le="1.0"}') == 0
    assert value(url, 'trading_monitor_decision_to_order_seconds_bucket{le="5.0"}') == 2
    assert value(url, "trading_monitor_messages_failed_24h") == 0
    assert value(url, "trading_monitor_equity_dollars") == D(broker.get_account().equity)
    assert value(url, 'trading_monitor_halt_active{halt="kill_switch"}') == 0
    assert value(url, "trading_monitor_broker_requests_total") is not None
    jobs = {r["metric"]["job_name"] for r in query(
        url, "trading_monitor_job_last_success_age_seconds")}
    assert {"order_executor", "order_monitor", "position_monitor"} <= jobs, jobs
    # Three scrapes at least, so that every rate() and increase() of the panels has points.
    wait_for("three scrapes", lambda: (value(
        url, 'count_over_time(up{job="trading-monitor"}[5m])') or 0) >= 3)
    panels = json.loads(DASHBOARD.read_text())["panels"]
    for panel in panels:
        for target in panel["targets"]:
            assert query(url, target["expr"]), (panel["title"], target["expr"])
    # The alert rules: loaded, evaluated without error; none fires on a healthy book
    # (the stale-job rule needs its job's clock, the rest read the scraped state).
    def evaluated() -> list[dict[str, Any]] | None:
        groups = requests.get(url + "/api/v1/rules", timeout=10).json()["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        done = all(r.get("lastEvaluation", "").startswith("20") and
                   not r["lastEvaluation"].startswith("0001") for r in rules)
        return rules if rules and done else None
    rules = wait_for("every rule evaluated", evaluated)
    assert len(rules) == 12 and all(r["health"] == "ok" for r in rules), rules
    firing = {r["name"] for r in rules if r["state"] != "inactive"}
    assert not firing & {"TradingMonitorUnprotectedPosition", "TradingMonitorDown",
                         "TradingMonitorBooksUnreadable", "TradingMonitorReconciliationFailed",
                         "TradingMonitorReconciliationIncident",
                         "TradingMonitorMessagesFailed"}, firing


def test_promtool_checks_the_rules_and_the_example_config():
    promtool = need("promtool")
    for args in (["check", "rules", str(RULES)],
                 ["check", "config", str(RULES.parent / "prometheus.yml")]):
        done = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
