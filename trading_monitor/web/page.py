"""The cockpit page, server-rendered: protection first, then what happened, then the rest.

No script and nothing from the internet: one HTML document with its CSS inline
(templates/page.html), refreshed by the browser every REFRESH_SECONDS.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import cache
from html import escape
from importlib import resources
from string import Template
from typing import Any

from trading_monitor.cli import book
from trading_monitor.web import sections
from trading_monitor.web.data import Position
from trading_monitor.web.fmt import e, money, price, qty

REFRESH_SECONDS = 15


@cache
def _template() -> Template:
    text = resources.files("trading_monitor.web").joinpath("templates/page.html")
    return Template(text.read_text(encoding="utf-8"))


def layout(title: str, body: str, *, refresh: bool = False) -> str:
    tag = f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">' if refresh else ""
    return _template().substitute(title=escape(title), body=body, refresh=tag)


def render(data: dict[str, Any], *, can_act: bool, token_set: bool, csrf: str,
           message: str | None = None) -> str:
    """The whole page. `can_act`: a logged-in operator (the action buttons are shown)."""
    parts = [f"<h1>trading-monitor cockpit <span class='mute'>· {e(data['as_of'])}</span></h1>"]
    if message:
        parts.append(f"<div class='banner warn'>{escape(message)}</div>")
    parts += [_protection_banner(data), _incident_banner(data), _kpis(data),
              "<h2>Open positions</h2>",
              _positions(data["positions"], data["broker"], data["broker_read_at"], can_act),
              sections.pending(data["pending"]), sections.equity(data),
              sections.halts(data["halts"]), sections.reconciliation(data),
              sections.jobs(data["jobs"], data["daemons"]),
              sections.decisions(data["decisions"]),
              sections.alerts(data["alerts"], data.get("messages_failed", (0, None))),
              _actions(can_act, token_set, csrf)]
    return layout("trading-monitor cockpit", "\n".join(parts), refresh=True)


def _protection_banner(data: dict[str, Any]) -> str:
    held: list[Position] = data["positions"]
    naked: list[Position] = data["unprotected"]
    unconfirmed = [p for p in held if p.unprotected_qty == 0
                   and not data["broker"].get(p.trade_id, (True, ""))[0]]
    if unconfirmed and not naked:
        names = ", ".join(f"#{p.trade_id} {escape(p.symbol)}" for p in unconfirmed)
        return (f"<div class='banner warn' id='protection'>The books show every stop, but the "
                f"broker does not confirm those of {names} (see below)</div>")
    if naked:
        names = ", ".join(f"#{p.trade_id} {escape(p.symbol)}: {qty(p.unprotected_qty)} of "
                          f"{qty(p.qty)} shares without a stop" for p in naked)
        return f"<div class='banner bad' id='protection'>UNPROTECTED: {names}</div>"
    if not held:
        return "<div class='banner ok' id='protection'>No open position</div>"
    return (f"<div class='banner ok' id='protection'>All {len(held)} position(s) protected by "
            "a live stop at the broker</div>")


def _incident_banner(data: dict[str, Any]) -> str:
    held = (data.get("broker_account") or {}).get("held_elsewhere") or []
    elsewhere = "".join(  # issue 27: `reconcile --adopt-account ... --leave-open-trades`
        f"<div class='banner warn' id='held-elsewhere-{e(t['id'])}'>HELD AT ANOTHER ACCOUNT, "
        f"not managed: trade #{e(t['id'])} {e(t['symbol'])} {e(t['status'])} at broker "
        f"account {e(t['broker_account_id'])}</div>" for t in held)
    incident = data.get("incident")
    if not incident:
        return elsewhere
    names = incident.get("symbols") or {}
    trades = ", ".join(f"trade #{t} {names.get(str(t), '')}".strip()
                       for t in incident.get("trades", []))
    return (f"<div class='banner bad' id='incident'>RECONCILIATION INCIDENT since "
            f"{e(incident.get('opened_at'))}: {e(incident.get('cause'))}; nothing booked for "
            f"{escape(trades)}. Entries are halted: <code>trading-monitor reconcile</code></div>"
            + elsewhere)


def _kpis(data: dict[str, Any]) -> str:
    p = data["pnl_today"]
    unprotected = sum((x.unprotected_qty for x in data["unprotected"]), Decimal(0))
    risk = money(data["total_at_risk"]) + (" + unbounded" if unprotected else "")
    active = [h["key"] for h in data["halts"] if h["active"]]
    return (
        "<div class='kpis'>"
        f"<div class='kpi' id='total-at-risk'>$ at risk if every stop fills<b>{risk}</b></div>"
        f"<div class='kpi' id='pnl-today'>P&amp;L today ({e(p['trading_day'])})"
        f"<b>{money(p['total'], sign=True)}</b>realised {money(p['realised'], sign=True)} · "
        f"unrealised {money(p['unrealised'], sign=True)}</div>"
        f"<div class='kpi'>Halts<b>{escape(', '.join(active)) or 'none'}</b></div>"
        f"<div class='kpi'>Reconciliation<b>{e(data['reconciliation']['status'] or 'not run')}"
        f"</b></div>{_leader(data['daemons'])}</div>")


def _leader(daemons: list[dict[str, Any]]) -> str:
    """Is the daemon alive: the fresh leader's heartbeat, or its absence in red."""
    leader = next((d for d in daemons if d["role"] == "leader" and not d["stale"]), None)
    if leader is None:
        return ("<div class='kpi' id='leader'>Leader<b class='neg'>NONE fresh</b>nothing "
                "trades or protects</div>")
    paused = f" · <span class='neg'>PAUSED: {e(leader['trading_paused'])}</span>" if leader[
        "trading_paused"] else ""
    return (f"<div class='kpi' id='leader'>Leader<b>{e(leader['host'])} pid {e(leader['pid'])}"
            f"</b>beat {e(book.ago(leader['age_seconds']))} ago{paused}</div>")


def _positions(held: list[Position], broker: dict[int, tuple[bool, str]],
               read_at: datetime | None, can_act: bool) -> str:
    if not held:
        return "<p class='mute'>none</p>"
    return "<div class='cards'>" + "".join(
        _card(p, _broker_line(broker.get(p.trade_id), read_at), can_act) for p in held
    ) + "</div>"


def _broker_line(found: tuple[bool, str] | None, read_at: datetime | None) -> str:
    if found is None:
        return ""
    ok, text = found
    when = f" (read {read_at.astimezone(book.NEW_YORK):%H:%M:%S})" if read_at else ""
    return (f"<p class='broker-check {'pos' if ok else 'neg'}'>{'✓' if ok else '✗'} "
            f"{escape(text)}{when}</p>")


def _card(p: Position, broker_line: str, can_act: bool) -> str:
    mark = price(p.mark) + (" <span class='neg'>(stale)</span>" if p.mark_stale else "")
    if p.stop is None:
        stop = "<p class='stop neg'>NO live stop at the broker</p>"
    else:
        covers = "" if p.unprotected_qty == 0 else (
            f" <span class='neg'>covers {qty(p.stop_qty)} of {qty(p.qty)}</span>")
        stop = (f"<p class='stop'>stop <span class='stop-price'>{price(p.stop)}</span> at the "
                f"broker{covers} · {e(p.stop_distance_pct)} % away · "
                f"<span class='at-risk'>{money(p.at_risk)}</span> at risk · "
                f"<span class='at-stop'>{money(p.at_stop_vs_entry, sign=True)}</span> vs "
                "entry at the stop</p>")
    unprotected = ("—" if p.unprotected_seconds is None
                   else f"{Decimal(p.unprotected_seconds).quantize(Decimal('0.1'))} s")
    exit_line = "" if p.exit_since is None else (
        f"<p class='neg'>exit working since {e(p.exit_since)}"
        f"{' (' + escape(p.exit_purpose) + ')' if p.exit_purpose else ''}</p>")
    button = "" if not can_act else (
        f"<form class='inline' method='get' action='/confirm/flatten/{p.trade_id}'>"
        f"<button class='danger' type='submit' id='flatten-{p.trade_id}'>Flatten…</button>"
        "</form>")
    bad = " bad" if p.unprotected_qty > 0 else ""
    return (f"<div class='card{bad}' id='trade-{p.trade_id}'>"
            f"<h3>#{p.trade_id} {escape(p.symbol)} <span class='mute'>{escape(p.side)}</span>"
            f"</h3><p>{qty(p.qty)} shares · entry {price(p.entry)} · mark {mark} · "
            f"{money(p.unrealized_pnl, sign=True)}</p>{stop}{broker_line}"
            f"<p>target {price(p.target)} · trail step {e(p.trail_step)}</p>"
            f"<p class='mute'>unprotected at entry: {escape(unprotected)}</p>"
            f"{exit_line}{button}</div>")


def _actions(can_act: bool, token_set: bool, csrf: str) -> str:
    if not token_set:
        return ("<h2>Actions</h2><p class='mute'>Read-only: COCKPIT_TOKEN is not set on this "
                "daemon. Use the CLI (<code>trading-monitor kill-switch</code>).</p>")
    if not can_act:
        return "<h2>Actions</h2><p><a href='/login' id='login'>Log in</a> to act.</p>"
    return ("<h2>Actions</h2><p>"
            + _go("/confirm/kill", "kill", "Kill switch…")
            + _go("/confirm/kill", "kill-flatten", "Kill switch and flatten all…", flatten=True)
            + _go("/confirm/resume", "resume", "Resume…")
            + f"</p><form method='post' action='/logout'><input type='hidden' name='csrf' "
            f"value='{escape(csrf)}'><button type='submit' id='logout'>Log out</button></form>")


def _go(action: str, ident: str, label: str, *, flatten: bool = False) -> str:
    """A button that opens a confirmation page (a GET: it changes nothing)."""
    extra = "<input type='hidden' name='flatten' value='1'>" if flatten else ""
    css = " class='danger'" if flatten else ""
    return (f"<form class='inline' method='get' action='{action}'>{extra}"
            f"<button type='submit'{css} id='{ident}'>{label}</button></form> ")
