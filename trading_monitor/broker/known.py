"""The enum values of Alpaca's bodies that we know, as plain strings.

Alpaca adds values without notice (six asset classes in 2026). A value outside these sets is
kept as its string and treated conservatively by the code that reads it; these sets only
feed the reports (`validate-paper --shapes`, a log line the first time a value is seen).
Sources: alpaca-py 0.44's enums, Alpaca's trading-api spec and changelog (2026-07-06).
"""

from __future__ import annotations

import logging
import threading

from trading_monitor.domain.alert_kinds import alert

log = logging.getLogger(__name__)

ORDER_STATUS = frozenset({
    "new", "partially_filled", "filled", "done_for_day", "canceled", "expired", "replaced",
    "pending_cancel", "pending_replace", "pending_review", "accepted", "pending_new",
    "accepted_for_bidding", "stopped", "rejected", "suspended", "calculated", "held",
})
ORDER_CLASS = frozenset({"simple", "mleg", "bracket", "oco", "oto", ""})
ORDER_TYPE = frozenset({"market", "limit", "stop", "stop_limit", "trailing_stop"})
TIME_IN_FORCE = frozenset({"day", "gtc", "opg", "cls", "ioc", "fok"})
SIDE = frozenset({"buy", "sell"})
POSITION_SIDE = frozenset({"long", "short"})
# The only class the jobs trade, adopt, protect or flatten.
MANAGED_ASSET_CLASS = "us_equity"
ASSET_CLASS = frozenset({
    "us_equity", "us_option", "crypto", "crypto_perp",
    # In Alpaca's spec since 2026-07, unknown to alpaca-py 0.44.
    "treasury", "corporate", "global_equity", "us_index", "us_equity_chain", "ipo",
})
ASSET_STATUS = frozenset({"active", "inactive"})
BORROW_STATUS = frozenset({"easy_to_borrow", "hard_to_borrow", "not_borrowable"})
ACTIVITY_TYPE = frozenset({
    "FILL", "ACATC", "ACATS", "CFEE", "CIL", "CSD", "CSW", "DIV", "DIVCGL", "DIVCGS",
    "DIVNRA", "DIVROC", "DIVTXEX", "DIVWH", "EXTRD", "FEE", "FXTRD", "INT", "INTPNL", "JNLC",
    "JNLS", "MA", "MEM", "NC", "OCT", "OPASN", "OPCSH", "OPEXC", "OPEXP", "OPTRD", "PTC",
    "REO", "REORG", "SPIN", "SPLIT", "SWP", "VOF", "WH", "TRANS", "MISC",
})
TRADE_EVENT = frozenset({
    "new", "fill", "partial_fill", "canceled", "expired", "done_for_day", "replaced",
    "rejected", "pending_new", "stopped", "pending_cancel", "pending_replace", "calculated",
    "suspended", "order_replace_rejected", "order_cancel_rejected", "held", "accepted",
    "restated", "trade_bust", "trade_correct",
})

# Which enum each (kind, field) holds; what `validate-paper --shapes` checks.
ENUM_FIELDS: dict[tuple[str, str], frozenset[str]] = {
    ("order", "status"): ORDER_STATUS,
    ("order", "order_class"): ORDER_CLASS,
    ("order", "type"): ORDER_TYPE,
    ("order", "time_in_force"): TIME_IN_FORCE,
    ("order", "side"): SIDE,
    ("position", "side"): POSITION_SIDE,
    ("position", "asset_class"): ASSET_CLASS,
    ("asset", "class"): ASSET_CLASS,
    ("asset", "status"): ASSET_STATUS,
    ("asset", "borrow_status"): BORROW_STATUS,
    ("activity", "activity_type"): ACTIVITY_TYPE,
    ("trade_update", "event"): TRADE_EVENT,
}

# An order in a status we do not know may be unprotected or stuck: a person looks.
ALERTED = frozenset({("order", "status")})
_seen: set[tuple[str, str, str]] = set()
_seen_lock = threading.Lock()


def note_unknown(kind: str, field: str, value: str) -> bool:
    """Log a value we do not know, once per process; True if it is unknown."""
    known = ENUM_FIELDS.get((kind, field))
    if known is None or value in known:
        return False
    with _seen_lock:
        first = (kind, field, value) not in _seen
        _seen.add((kind, field, value))
    if first and (kind, field) in ALERTED:
        alert(log, "broker_unknown_value", f"{kind}.{field}={value}",
              "the broker sent an order status we do not know (%r): such an order counts as "
              "neither final nor protecting; we wait for a status we know", value)
    elif first:
        log.warning("the broker sent %s.%s = %r, a value we do not know; kept as sent and "
                    "treated conservatively", kind, field, value)
    return True


def unknown_values_seen() -> frozenset[tuple[str, str, str]]:
    """Every (kind, field, value) we did not know that this process has met."""
    with _seen_lock:
        return frozenset(_seen)
