"""Each per-event message as one readable line, written from the rows the books hold: the
event_log row that queued it (0015_notify_outbox.sql) and its decision or trade. A message
says nothing the books do not: every figure in it is a column of those rows.

    line = render(db, outbox_row)   # e.g. "EXIT FILLED AAPL: sold 10 @ 190.00 …"
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from trading_monitor.db.connection import Row, TradingDB
from trading_monitor.db.queries import Queries
from trading_monitor.domain.pnl import realized_pnl
from trading_monitor.report.figures import r_multiple

QUERIES = Queries(__name__)  # queries.sql beside this module
TITLES = {"decision_rejected": "decision rejected", "entry_filled": "entry filled",
          "stop_moved": "stop moved", "exit_filled": "exit filled", "halt": "halt",
          "kill_switch": "kill switch", "daemon": "daemon"}
MAX_LINE = 500  # a phone's notification shows a few lines: the start is what counts
_STEP = re.compile(r"stop moved to (?P<stop>[-\d.]+) \(step (?P<step>\d+)\)")


class MissingRows(LookupError):
    """The rows a message is written from are not there (never expected: event_log is
    append-only and trades are never deleted)."""


def query(db: TradingDB, name: str, params: dict[str, Any]) -> list[Row]:
    return db.execute_query(QUERIES[name], params)


def _one(db: TradingDB, name: str, row_id: Any) -> Row:
    rows = query(db, name, {"id": row_id})
    if not rows:
        raise MissingRows(f"{name.removeprefix('message_')} #{row_id} not found")
    return rows[0]


def amount(value: Any) -> str:
    """A quantity as the books hold it, without trailing zeros (10, 2.5)."""
    if value is None:
        return "?"
    d = Decimal(str(value))
    return f"{d.quantize(Decimal(1)):f}" if d == d.to_integral() else f"{d.normalize():f}"


def price(value: Any) -> str:
    return "?" if value is None else f"{Decimal(str(value)):,.2f}"


def signed(value: Any) -> str:
    return "?" if value is None else f"{Decimal(str(value)):+,.2f}"


def one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MAX_LINE else line[:MAX_LINE - 1] + "…"


def render(db: TradingDB, outbox: Row) -> str:
    event = _one(db, "message_event", outbox["event_log_id"])
    kind = outbox["kind"]
    writer = {"decision_rejected": _decision, "entry_filled": _entry, "stop_moved": _stop,
              "exit_filled": _exit, "halt": _halt, "kill_switch": _kill,
              "daemon": _daemon}[kind]
    return one_line(writer(db, event))


def _decision(db: TradingDB, e: Row) -> str:
    rows = query(db, "message_decision", {"id": e["entity_id"]})
    d = rows[0] if rows else {"ticker": None, "primary_action": None}
    what = " ".join(str(v) for v in (d["ticker"], d["primary_action"]) if v)
    return f"{e['to_status']} decision #{e['entity_id']}{' ' + what if what else ''}: " \
           f"{e['message']}"


def _entry(db: TradingDB, e: Row) -> str:
    t = _one(db, "message_trade", e["entity_id"])
    verb = "bought" if t["side"] == "buy" else "sold short"
    seconds = t["unprotected_seconds"]
    waited = "?" if seconds is None else f"{Decimal(str(seconds)):.1f}"
    stop = t["first_stop"] or t["planned_stop_loss"]
    if t["origin"] == "EXTERNAL":  # adopted (position_monitor): no entry of ours filled
        return (f"UNTRACKED POSITION ADOPTED {t['symbol']}: {amount(t['actual_qty'])} @ "
                f"{price(t['actual_entry_price'])} (trade #{t['id']}); stop {price(stop)} "
                f"accepted {waited} s after it was adopted")
    return (f"ENTRY FILLED {t['symbol']}: {verb} {amount(t['actual_qty'])} @ "
            f"{price(t['actual_entry_price'])} (trade #{t['id']}); stop {price(stop)} "
            f"accepted {waited} s after the first fill")


def _stop(db: TradingDB, e: Row) -> str:
    t = _one(db, "message_trade", e["entity_id"])
    found = _STEP.search(e["message"] or "")
    if found is None:
        return f"STOP MOVED {t['symbol']}: {e['message']}"
    stop, entry, qty = Decimal(found["stop"]), t["actual_entry_price"], t["actual_qty"]
    line = (f"STOP MOVED {t['symbol']}: stop {'raised' if t['side'] == 'buy' else 'lowered'} "
            f"to {price(stop)} (trail step {found['step']}, trade #{t['id']})")
    if entry is not None and qty:
        # What the books say the trade makes if this stop fills at its price, fees aside.
        held = realized_pnl(t["side"], Decimal(entry), stop, Decimal(qty))
        line += f"; at this stop {amount(qty)} shares from {price(entry)} make {signed(held)}"
    return line


def _exit(db: TradingDB, e: Row) -> str:
    t = _one(db, "message_trade", e["entity_id"])
    verb = "sold" if t["side"] == "buy" else "bought back"
    r = r_multiple(t)
    reason = t["exit_reason_code"] or "closed"
    line = (f"EXIT FILLED {t['symbol']}: {verb} {amount(t['actual_qty'])} @ "
            f"{price(t['exit_price'])}{' (estimated)' if t['exit_estimated'] else ''} "
            f"({reason}, trade #{t['id']}): P&L {signed(t['actual_pnl'])}"
            f"{f', {r:+} R' if r is not None else ''}")
    if t["fees"]:
        line += f" after fees {price(t['fees'])}"
    if t["protected_at"] is None:
        line += "; no stop was ever accepted for it"
    return line


def _halt(db: TradingDB, e: Row) -> str:
    word = "SET" if e["event"] == "halt_set" else "CLEARED"
    return f"HALT {word} {e['message']}"


def _kill(db: TradingDB, e: Row) -> str:
    """Set (halt_set), what it did (the command's own kill_switch row), cleared (resume)."""
    if e["event"] == "kill_switch":
        return f"KILL SWITCH ACTED: {e['message'].removeprefix('kill switch ')}"
    word = "ON" if e["event"] == "halt_set" else "OFF"
    return f"KILL SWITCH {word}: {e['message'].removeprefix('kill_switch: ')}"


def _daemon(db: TradingDB, e: Row) -> str:
    event = e["event"]
    return f"DAEMON {event.upper()} {e['message'].removeprefix(f'daemon {event} ')}"
