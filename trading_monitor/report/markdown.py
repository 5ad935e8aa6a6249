"""The daily report as Markdown: one section per part, a table where there are rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from trading_monitor.report.data import NEW_YORK

SECTIONS = ("Summary", "Trades opened", "Trades closed", "Open positions", "Slippage",
            "Decisions rejected or skipped", "Profit targets awaiting approval", "Alerts",
            "Job runs")


def cell(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.astimezone(NEW_YORK).strftime("%H:%M:%S")
    if isinstance(value, Decimal):
        return f"{value.normalize():f}" if value == value.to_integral() else str(value)
    return str(value).replace("|", "\\|").replace("\n", " ")


def money(value: Any) -> str:
    """An amount with two decimals and thousands separators, however it was stored."""
    if value is None or value == "":
        return "—"
    return f"{Decimal(str(value)):,.2f}"


def table(headers: Sequence[str], rows: list[list[Any]], empty: str) -> list[str]:
    if not rows:
        return [f"_{empty}_", ""]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def _incident(f: dict[str, Any]) -> list[str]:
    """An open reconciliation incident, first: money is at stake until someone looks."""
    incident = f.get("incident")
    if not incident:
        return []
    names = incident.get("symbols") or {}
    held = ", ".join(f"#{t} {names.get(str(t), '')}".strip()
                     for t in incident.get("trades", []))
    return [f"- **Reconciliation incident open** since {incident.get('opened_at')}: "
            f"{incident.get('cause')}; nothing booked for {held or 'no trade'}; entries halted "
            "until the broker shows the positions again or `trading-monitor reconcile "
            "--accept-gone` closes them"]


def _summary(f: dict[str, Any]) -> list[str]:
    p, d = f["pnl"], f["decisions"]
    return [*_incident(f),
        *[f"- **Corporate action**: {line}" for line in f.get("corporate_actions", [])],
        *[f"- **Exit not filled**: {line}" for line in f.get("exits_working", [])],
        *[f"- **Held at another broker account, not managed**: {line}"
          for line in f.get("held_elsewhere", [])],
        f"- Realised P&L: **{money(p['realised'])}** from {p['trades_closed']} closed trades "
        f"({p['winners']} won, {p['losers']} lost; fees {money(p['fees'])}; "
        f"{cell(p['total_r'])} R)",
        f"- Unrealised P&L: **{money(p['unrealised'])}** on "
        f"{sum(1 for o in f['open_positions'] if o['protected'] is not None)} open positions"
        + (f" ({p['unmarked_positions']} without a mark)" if p["unmarked_positions"] else ""),
        f"- Total: **{money(p['total'])}**",
        *([f"- Unallocated fees: {money(f['unallocated_fees']['total'])} "
            f"({len(f['unallocated_fees']['fees'])} activities charged to no trade of ours: "
            "in no trade's P&L)"] if f["unallocated_fees"]["fees"] else []),
        *[f"  - {_cost(x)}" for x in f["unallocated_fees"]["fees"]],
        f"- Decisions settled: {d['settled']} ({d['by_state']['EXECUTED']} executed, "
        f"{d['by_state']['REJECTED']} rejected, {d['by_state']['SKIPPED']} skipped)",
        f"- Alerts: {len(f['alerts'])}; failed job runs: "
        f"{sum(j['failed'] for j in f['jobs'])}", ""]


def _sections(f: dict[str, Any]) -> dict[str, list[str]]:
    opened = [[t["trade_id"], t["symbol"], t["side"], t["qty"], money(t["entry_price"]),
               money(t["first_stop"]), money(t["initial_risk_per_share"]), t["entry_at"]]
              for t in f["trades_opened"]]
    closed = [[t["trade_id"], t["symbol"], t["side"], t["qty"], money(t["entry_price"]),
               money(t["exit_price"]), t["exit_reason"], money(t["realised_pnl"]),
               t["r_multiple"], t["exit_at"]] for t in f["trades_closed"]]
    open_ = [[t["trade_id"], t["symbol"], t["side"], t["qty"], money(t["entry_price"]),
              money(t["stop"]) if t["protected"] is not False else "**NO LIVE STOP**",
              money(t["current_price"]), money(t["unrealised_pnl"]),
              "closed since" if t["closed_since"] else ("stale" if t["mark_stale"] else "")]
             for t in f["open_positions"]]
    slips = [[s["trade_id"], s["symbol"], s["leg"], money(s["asked"]), money(s["filled"]),
              s["bps"]]
             for s in f["slippage"]]
    rejected = [[d["decision_id"], d["ticker"], d["action"], d["state"], d["reason"]]
                for d in f["decisions"]["not_executed"]]
    targets = [[t["trade_id"], t["symbol"], t["side"], money(t["target"]),
                money(t["current_price"]),
                t["reached_at"], f"`{t['approve_with']}`"]
               for t in f["targets_awaiting_approval"]]
    alerts = [[a["at"], a["kind"], a["delivery"], a["message"]] for a in f["alerts"]]
    jobs = [[j["job_name"], j["runs"], j["succeeded"], j["partial"], j["failed"],
             j["missed_or_skipped"], j["last_status"], j["last_started_at"], j["last_error"]]
            for j in f["jobs"]]
    failed = [[r["job_name"], r["status"], r["started_at"], r["error"]] for r in f["failed_runs"]]
    return {
        "Summary": _summary(f),
        "Trades opened": table(["#", "symbol", "side", "qty", "entry", "first stop",
                                "risk/share", "filled"], opened, "no trade opened"),
        "Trades closed": table(["#", "symbol", "side", "qty", "entry", "exit", "reason",
                                "P&L", "R", "closed"], closed, "no trade closed"),
        "Open positions": table(["#", "symbol", "side", "qty", "entry", "stop", "mark",
                                 "unrealised P&L", "note"], open_, "no open position"),
        "Slippage": table(["#", "symbol", "leg", "asked", "filled", "bps"], slips,
                          "no fill today") + ["Basis points worse than asked (negative: "
                                              "better).", ""],
        "Decisions rejected or skipped": table(["decision", "ticker", "action", "state",
                                                "reason"], rejected,
                                               "no decision rejected or skipped"),
        "Profit targets awaiting approval": table(["#", "symbol", "side", "target", "mark",
                                                   "reached", "approve with"], targets,
                                                  "no target awaiting approval"),
        "Alerts": table(["time", "kind", "delivery", "message"], alerts, "no alert"),
        "Job runs": table(["job", "runs", "ok", "partial", "failed", "missed/skipped", "last",
                           "last start", "last error"], jobs, "no job ran")
        + (["Failed, missed or skipped runs:", ""]
           + table(["job", "status", "start", "error"], failed, "") if failed else []),
    }


def render(f: dict[str, Any], chart_name: str | None = None) -> str:
    """The whole report; times are New York times of the day reported."""
    lines = [f"# Trading report {f['day'].isoformat()}", "",
             "Times are New York time; amounts in the account's currency.", ""]
    if chart_name:
        lines += [f"![equity, daily P&L and R multiples]({chart_name})", ""]
    for title, body in _sections(f).items():
        lines += [f"## {title}", "", *body]
    return "\n".join(lines).rstrip() + "\n"


def _cost(x: dict[str, Any]) -> str:
    """One unallocated activity: type, symbol, amount, what it says and what we took it for."""
    what = ", ".join(str(v) for v in (x.get("description"), x.get("cost_kind")) if v)
    return " ".join(str(v) for v in (x.get("activity_type"), x.get("symbol"),
                                      money(x["amount"])) if v) + (f" ({what})" if what else "")
