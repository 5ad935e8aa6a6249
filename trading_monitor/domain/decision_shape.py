"""The shape of a decision: which keys each action needs. One table for two checks.

`submit_decision(decision jsonb)` (migration 0011) refuses a decision that lacks a key its
action needs, before it is written; the Python contract (domain/decision.py) refuses the same
decision when the executor reads it. Both come from NEEDS below: the migration's check is
rendered from it (`render_sql_shape()`, pasted between the markers in
0011_submit_decision.sql), and tests/integration/test_n8n_submit_decision.py fails when the file and
this table disagree, or when either check accepts what the other refuses.

Structure only: values (a price on the tick, a side that exists, one size rather than two)
are the executor's, which ends a decision it cannot carry out REJECTED with its reason.
"""

from __future__ import annotations

# The keys every action needs.
ALWAYS = ("ticker", "primary_action")
# What a new entry needs: NEW_TRADE and AMEND.
TRADE_PLAN = ("side", "trade_style", "entry_price", "stop_loss")
SIZES = ("quantity", "risk_amount", "risk_pct")
TRADE_IDS = ("existing_order_id", "existing_trade_journal_id")

# action -> what it needs besides ALWAYS; each entry a group of keys of which one must be set
# (a key is set when present, not null and, for a string, not blank).
NEEDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "NEW_TRADE": (*((k,) for k in TRADE_PLAN), SIZES),
    "CANCEL": (TRADE_IDS,),
    "AMEND": (*((k,) for k in TRADE_PLAN), SIZES, TRADE_IDS),
    "NO_ACTION": (),
}
ACTIONS = tuple(NEEDS)

# The marker names this module by its path when migration 0011 was written; an applied
# migration never changes (its checksum is recorded), so neither does the marker.
BEGIN_MARKER = "-- BEGIN shape: rendered from trading_monitor/decision_shape.py"
END_MARKER = "-- END shape"


def group_words(keys: tuple[str, ...]) -> str:
    """A group as the error names it: `stop_loss`, or `one of quantity, risk_amount, risk_pct`.

    The SQL function words it the same way (`one of ` || array_to_string(keys, ', ')).
    """
    return keys[0] if len(keys) == 1 else "one of " + ", ".join(keys)


def missing(decision: dict[str, object]) -> list[str]:
    """What the decision lacks for its action, in the words both checks use (for the tests)."""
    action = str(decision.get("primary_action") or "").strip().upper()

    def is_set(key: str) -> bool:
        value = decision.get(key)
        return value is not None and not (isinstance(value, str) and not value.strip())

    return [group_words(group) for group in NEEDS.get(action, ()) if not any(map(is_set, group))]


def render_sql_shape() -> str:
    """NEEDS as the SQL rows (action, position, keys) the function checks against."""
    rows = []
    for action, groups in NEEDS.items():
        if not groups:
            rows.append(f"        ('{action}', 0, NULL::text[])")
        for position, group in enumerate(groups, 1):
            keys = ", ".join(f"'{k}'" for k in group)
            rows.append(f"        ('{action}', {position}, ARRAY[{keys}])")
    return "\n".join([BEGIN_MARKER, "    SELECT * FROM (VALUES", ",\n".join(rows),
                      "    ) AS shape(action, position, keys)", END_MARKER])
