"""The cockpit's small pages: log in, confirm an action (naming symbol and quantity), and
what an action did. None of them refreshes itself."""

from __future__ import annotations

from html import escape

from trading_monitor.web.page import layout


def _csrf(csrf: str) -> str:
    return f"<input type='hidden' name='csrf' value='{escape(csrf)}'>"


def login(csrf: str, problem: str | None = None) -> str:
    note = f"<div class='banner bad'>{escape(problem)}</div>" if problem else ""
    return layout("Log in · trading-monitor cockpit", (
        "<h1>Log in to act</h1>" + note +
        "<form method='post' action='/login' autocomplete='off'>" + _csrf(csrf) +
        "<p><label>COCKPIT_TOKEN<br><input type='password' name='token' id='token' "
        "autocomplete='current-password' required></label></p>"
        "<p><button type='submit' id='login-submit'>Log in</button> "
        "<a href='/'>back (read-only)</a></p></form>"))


def confirm(title: str, what: str, action: str, csrf: str, confirmed: str,
            danger: bool = True) -> str:
    """`confirmed` (the symbol and quantity named here) is sent back and checked again: a
    position that changed meanwhile is not acted on."""
    css = " class='danger'" if danger else ""
    return layout(f"{title} · trading-monitor cockpit", (
        f"<h1>{escape(title)}</h1><div class='banner warn' id='confirm-what'>{escape(what)}"
        "</div>"
        f"<form method='post' action='{escape(action)}'>{_csrf(csrf)}"
        f"<input type='hidden' name='confirmed' value='{escape(confirmed)}'>"
        "<p><label>Reason (recorded in event_log)<br><input type='text' name='reason' "
        "id='reason' required maxlength='300'></label></p>"
        f"<p><button type='submit'{css} id='confirm'>Yes: {escape(confirmed)}</button> "
        "<a href='/' id='cancel'>No, back</a></p></form>"))


def result(title: str, ok: bool, lines: list[str]) -> str:
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    state = "ok" if ok else "bad"
    head = "Done" if ok else "Not everything is final: look below, then act again"
    return layout(f"{title} · trading-monitor cockpit", (
        f"<h1>{escape(title)}</h1><div class='banner {state}' id='result'>{head}</div>"
        f"<ul id='result-lines'>{items}</ul><p><a href='/' id='back'>Back to the cockpit</a>"
        "</p>"))


def refused(why: str, title: str = "Refused") -> str:
    return layout(f"{title} · trading-monitor cockpit", (
        f"<h1>{escape(title)}</h1><div class='banner bad' id='refused'>{escape(why)}</div>"
        "<p><a href='/'>Back to the cockpit</a> · <a href='/login'>Log in</a></p>"))
