"""The cockpit page's tables below the positions: equity curve, halts, reconciliation, jobs,
today's decisions and the last alerts."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape
from typing import Any

from trading_monitor.cli import book
from trading_monitor.web.fmt import e


def table(title: str, ident: str, headers: Sequence[str], rows: list[list[Any]],
          empty: str) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{e(v)}</td>" for v in row) + "</tr>"
                   for row in rows)
    if not rows:
        body = f"<tr><td colspan='{len(headers)}' class='mute'>{escape(empty)}</td></tr>"
    return (f"<h2>{escape(title)}</h2><div class='scroll'><table id='{ident}'><thead><tr>"
            f"{head}</tr></thead><tbody>{body}</tbody></table></div>")


def pending(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    return table("Pending entries", "pending", ["#", "symbol", "side", "qty", "limit", "stop"],
                 [[r["id"], r["symbol"], r["side"], r["planned_qty"], r["planned_entry_price"],
                   r["planned_stop_loss"]] for r in rows], "none")


def equity(data: dict[str, Any]) -> str:
    """Today's equity (each position-monitor run's account read and each broker snapshot, an
    inline SVG line placed by time), else the last days' closing equity."""
    today = [(r["created_at"].timestamp(), Decimal(r["equity"])) for r in data["equity_today"]]
    label = "today, from each position-monitor run and snapshot"
    if len(today) < 2:
        ys = [Decimal(r["last_equity"] or r["start_equity"]) for r in data["equity_days"]]
        today = [(float(i), y) for i, y in enumerate(ys)]
        label = "the last trading days' closing equity"
    if len(today) < 2:
        return "<h2>Equity</h2><p class='mute'>not enough equity snapshots yet</p>"
    ys = [y for _, y in today]
    x0, xspan = today[0][0], (today[-1][0] - today[0][0]) or 1.0
    y0, yspan = min(ys), max(ys) - min(ys)
    line = " ".join(f"{(x - x0) / xspan * 1000:.1f},"
                    f"{float(110 - (y - y0) / yspan * 100) if yspan else 60.0:.1f}"
                    for x, y in today)
    change = ys[-1] - ys[0]
    css = "neg" if change < 0 else "pos" if change > 0 else "mute"
    return (f"<h2>Equity <span class='mute'>({escape(label)}: {len(ys)} points, "
            f"${min(ys):,.2f} – ${max(ys):,.2f})</span></h2>"
            f"<p id='equity-last'>last <b>${ys[-1]:,.2f}</b> · <span class='{css}'>"
            f"{'+' if change > 0 else '-' if change < 0 else ''}${abs(change):,.2f}</span> "
            "since the first point</p>"
            "<svg class='curve' id='equity' viewBox='0 0 1000 120' preserveAspectRatio='none' "
            "role='img' aria-label='equity curve'><polyline fill='none' stroke='currentColor' "
            f"stroke-width='2' vector-effect='non-scaling-stroke' points='{line}'/></svg>")


def halts(states: list[dict[str, Any]]) -> str:
    return table("Halts", "halts", ["halt", "state", "value", "reason"],
                 [[h["key"], "ACTIVE" if h["active"] else "off", h["value"], h["reason"]]
                  for h in states], "none")


def reconciliation(data: dict[str, Any]) -> str:
    recon = data["reconciliation"]
    incident = data.get("incident")
    rows = [[i["kind"], i["symbol"], i["trade_journal_id"], i["first_seen_at"]]
            for i in recon["issues"]]
    head = f"Reconciliation: {recon['status'] or 'not run yet'}"
    if incident:
        names = incident.get("symbols") or {}
        rows = [["INCIDENT: " + str(incident.get("cause")), names.get(str(t)), t,
                 incident.get("opened_at")] for t in incident.get("trades", [])] + rows
    return table(head, "reconciliation", ["issue", "symbol", "trade", "since"], rows,
                 "no open issue")


def jobs(runs: list[dict[str, Any]], daemons: list[dict[str, Any]]) -> str:
    job_rows = [[r["job_name"], r["status"], r["finished_at"] or r["started_at"],
                 " ".join(str(r["error"] or "").split())[:160]] for r in runs]
    beats = [[d["host"], d["pid"], d["role"], d["beat_at"], book.ago(d["age_seconds"]) + " ago",
              "STALE" if d["stale"] else "fresh"] for d in daemons]
    return (table("Each job's last run", "jobs", ["job", "status", "at", "error"], job_rows,
                  "no job has run yet")
            + table("Daemons", "daemons", ["host", "pid", "role", "last beat", "age", "beat"],
                    beats, "no daemon heartbeat"))


def decisions(rows: list[dict[str, Any]]) -> str:
    return table("Today's decisions", "decisions",
                 ["decision", "action", "ticker", "outcome", "trade", "reason", "at"],
                 [[r["analysis_decision_id"], r["primary_action"], r["ticker"],
                   r["terminal_state"], r["trade_journal_id"], r["reason"], r["created_at"]]
                  for r in rows], "no decision settled today")


def alerts(rows: list[dict[str, Any]], failed: tuple[int, str | None] = (0, None)) -> str:
    count, error = failed
    note = "" if not count else (
        f"<div class='banner warn' id='messages-failed'>{count} per-event message(s) to "
        f"NOTIFY_URLS failed for good in the last 24 hours ({e(error)}): see "
        "docs/operations.md, Per-event messages</div>")
    return note + table("Last alerts", "alerts", ["at", "kind", "delivery", "message"],
                        [[r["created_at"], r["kind"], r["delivery"], r["message"]]
                         for r in rows], "no alert")
