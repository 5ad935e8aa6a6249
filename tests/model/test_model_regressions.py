"""Sequences the lifecycle model found, replayed step by step as plain tests.

Each is a list of the model's steps (tests/model/harness.py `World.apply`); the world checks
every invariant after each step, as in the model. Add a sequence here whenever the model
shrinks a failure to one, with what it found.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.model.harness import KNOWN_OPEN, InvariantBroken, misreport_pending_cancel_as_canceled

pytestmark = pytest.mark.model

# The AMEND double entry (the test-only switch on): a pending cancel taken as withdrawn
# lets the replacement go out while the old entry can still fill.
AMEND_DURING_PENDING_CANCEL = [
    ("new_trade", {"symbol": "AAPL", "side": "BUY", "style": "SWING", "marketable": False,
                   "qty": 5}),
    ("job", {"job": "executor"}),
    ("cancel_behavior", {"mode": "pending", "seconds": 30}),
    ("amend", {"pick": 0, "move": "0.005"}),
    ("job", {"job": "executor"}),
    ("clock", {}),
]

# Found by the model: a partial fill setting, then the order monitor met lagging positions
# (position_lag): protection capped at what the broker showed. Holds because the invariant
# is stated as the system promises it (topped up once positions catch up).
LAGGING_POSITIONS_AFTER_A_PARTIAL_FILL = [
    ("partial_fills", {"symbol": "MSFT", "ratio": "0.3"}),
    ("new_trade", {"symbol": "MSFT", "side": "BUY", "style": "SWING", "marketable": True,
                   "qty": 2}),
    ("job", {"job": "executor", "mode": "staged"}),
    ("minutes", {"n": 1}),
    ("position_lag", {"seconds": 30}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
    ("position_lag", {"seconds": 0}),
    ("minutes", {"n": 1}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
]

# Found by the model: the trader closes a short by hand while fills are partial; the market
# close works in pieces and the position has no stop meanwhile (docs/invariants.md allows
# it: shares a market order will close).
CLOSE_BY_HAND_IN_PIECES = [
    ("new_trade", {"symbol": "NVDA", "side": "SELL", "style": "SWING", "marketable": True,
                   "qty": 6}),
    ("job", {"job": "executor", "mode": "staged"}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
    ("partial_fills", {"symbol": "NVDA", "ratio": "0.3"}),
    ("close_by_hand", {"symbol": "NVDA"}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
    ("minutes", {"n": 5}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
    ("job", {"job": "position_monitor", "mode": "staged"}),
]

# Found by the model (a real bug, fixed in order_executor/cancel_amend.py): two AMENDs of one
# resting entry while its cancel is pending each wrote a replacement intent; once the cancel
# was final both went out, two live entries for one decision. The second is now REJECTED.
TWO_AMENDS_OF_ONE_PENDING_CANCEL = [
    ("cancel_behavior", {"mode": "pending", "seconds": 30}),
    ("new_trade", {"symbol": "AAPL", "side": "BUY", "style": "SWING", "marketable": False,
                   "qty": 5}),
    ("job", {"job": "executor", "mode": "bracket"}),
    ("amend", {"move": "0.005", "pick": 0}),
    ("amend", {"move": "0.005", "pick": 0}),
    ("job", {"crash": "after_cancel", "job": "executor", "mode": "bracket"}),
    ("minutes", {"n": 1}),
    ("job", {"job": "executor", "mode": "bracket"}),
    ("job", {"job": "executor", "mode": "bracket"}),
]


def test_a_second_amend_of_one_entry_is_refused_while_the_first_waits(new_world):
    with new_world() as w:
        w.replay(TWO_AMENDS_OF_ONE_PENDING_CANCEL)
        outcomes = {r["analysis_decision_id"]: r for r in w.rows(
            "SELECT analysis_decision_id, terminal_state, reason FROM decision_outcome")}
        assert outcomes[2]["terminal_state"] == "EXECUTED"
        assert outcomes[3]["terminal_state"] == "REJECTED"
        assert "already amended by decision #2" in outcomes[3]["reason"]
        live = [o["client_order_id"] for o in w.ex.control.orders()
                if o["status"] not in ("canceled", "expired", "rejected", "filled")
                and o["client_order_id"].endswith("-entry")]
        assert len(live) == 1 and live[0].endswith("-d2-entry")


# Found by the model (a real bug, fixed in order_executor/withdraw.py and cancel_amend.py):
# an entry's cancel recorded by another job first left its trade PENDING; an AMEND then
# replaced it, and a second AMEND of the same (already withdrawn) entry sent a second
# replacement. A withdrawn entry now withdraws its trade, and a replaced entry is not
# amended or cancelled again.
SECOND_AMEND_OF_A_REPLACED_ENTRY = [
    ('cancel_behavior', {'mode': 'pending', 'seconds': 30}),
    ('new_trade',
     {'symbol': 'NVDA', 'side': 'SELL', 'style': 'SWING', 'marketable': False, 'qty': 5}),
    ('job', {'job': 'executor', 'mode': 'bracket'}),
    ('cancel_stop_by_hand', {'symbol': 'AAPL'}),
    ('price_step', {'pct': 1.5, 'symbol': 'NVDA'}),
    ('job', {'job': 'position_monitor', 'mode': 'bracket'}),
    ('amend', {'move': '0.005', 'pick': 0}),
    ('new_trade',
     {'marketable': True, 'qty': 6, 'side': 'BUY', 'style': 'SWING', 'symbol': 'NVDA'}),
    ('job', {'job': 'executor', 'mode': 'bracket'}),
    ('close_by_hand', {'symbol': 'AAPL'}),
    ('amend', {'move': '0.005', 'pick': 0}),
    ('gap', {'symbol': 'AAPL', 'up': True}),
    ('job', {'job': 'order_monitor', 'mode': 'bracket'}),
    ('cancel_stop_by_hand', {'symbol': 'AAPL'}),
    ('price_step', {'pct': -1.5, 'symbol': 'AAPL'}),
    ('job', {'crash': 'after_cancel', 'job': 'executor', 'mode': 'bracket'}),
    ('price_step', {'pct': -1.5, 'symbol': 'AAPL'}),
    ('job', {'job': 'position_monitor', 'mode': 'bracket'}),
    ('gap', {'symbol': 'AAPL', 'up': True}),
    ('new_trade',
     {'marketable': True, 'qty': 9, 'side': 'BUY', 'style': 'SWING', 'symbol': 'MSFT'}),
    ('cancel_behavior', {'mode': 'pending', 'seconds': 30}),
    ('amend', {'move': '0.005', 'pick': 0}),
    ('gap', {'symbol': 'AAPL', 'up': True}),
    ('cancel_stop_by_hand', {'symbol': 'AAPL'}),
    ('cancel_stop_by_hand', {'symbol': 'AAPL'}),
    ('cancel_stop_by_hand', {'symbol': 'AAPL'}),
    ('new_trade',
     {'marketable': False, 'qty': 1, 'side': 'BUY', 'style': 'SWING', 'symbol': 'AAPL'}),
    ('cancel_stop_by_hand', {'symbol': 'AAPL'}),
    ('fault', {'endpoint': 'POST /v2/orders', 'fault': 'hang'}),
    ('fault', {'endpoint': 'POST /v2/orders', 'fault': 'hang'}),
    ('job', {'job': 'executor', 'mode': 'bracket'}),
    ('gap', {'symbol': 'AAPL', 'up': True}),
    ('cancel_stop_by_hand', {'symbol': 'AAPL'}),
    ('price_step', {'pct': -1.5, 'symbol': 'AAPL'}),
    ('amend', {'move': '0.005', 'pick': 0}),
    ('price_step', {'pct': -1.5, 'symbol': 'AAPL'}),
    ('job', {'crash': 'after_cancel', 'job': 'position_monitor', 'mode': 'bracket'}),
    ('amend', {'move': '0.005', 'pick': 0}),
    ('job', {'job': 'executor', 'mode': 'bracket'}),
]


def test_a_replaced_entry_is_not_amended_again(new_world):
    with new_world() as w:
        w.replay(SECOND_AMEND_OF_A_REPLACED_ENTRY)
        [last] = w.rows("SELECT terminal_state FROM decision_outcome "
                        "ORDER BY analysis_decision_id DESC LIMIT 1")
        assert last["terminal_state"] == "REJECTED"


# Found by the model (a real bug, fixed in order_executor/cancel_amend.py): an AMEND naming
# the newest trade of a ticker, itself an AMEND's replacement not yet sent because the old
# entry's cancel was pending, "withdrew" that unsent row at once and sent its own entry
# while the old one could still fill. Such an AMEND is now REJECTED.
AMEND_OF_AN_UNSENT_AMENDMENT = [
    ('cancel_behavior', {'mode': 'pending', 'seconds': 30}),
    ('new_trade',
     {'symbol': 'MSFT', 'side': 'BUY', 'style': 'SWING', 'marketable': False, 'qty': 5}),
    ('job', {'job': 'executor', 'mode': 'bracket'}),
    ('amend', {'pick': 0, 'move': '0.005'}),
    ('job', {'job': 'executor', 'mode': 'bracket'}),
    ('cancel_stop_by_hand', {'symbol': 'AAPL'}),
    ('amend', {'pick': 1, 'move': '0.005'}),
    ('job', {'job': 'executor', 'mode': 'bracket'}),
]


def test_an_amend_of_an_unsent_amendment_is_refused(new_world):
    with new_world() as w:
        w.replay(AMEND_OF_AN_UNSENT_AMENDMENT)
        [last] = w.rows("SELECT terminal_state, reason FROM decision_outcome "
                        "WHERE analysis_decision_id = 3")
        assert last["terminal_state"] == "REJECTED" and "not sent yet" in last["reason"]


def _steps(steps):
    return [s for s in steps if s[0] != "clock"]


def test_amend_during_a_pending_cancel_keeps_one_live_entry(new_world):
    with new_world() as w:
        w.replay(_steps(AMEND_DURING_PENDING_CANCEL))


def test_the_misreport_brings_the_double_entry_back(new_world, monkeypatch):
    misreport_pending_cancel_as_canceled(monkeypatch)
    with new_world() as w, pytest.raises(InvariantBroken, match="2 live entries"):
        w.replay(_steps(AMEND_DURING_PENDING_CANCEL))


# DT-CLOSE (found by the model; fixed): a DAYTRADE still open after the close (no flatten
# ran). The order monitor's settle step places its protection as a DAY stop, which Alpaca
# keeps for the whole next session; end_of_day.keep_overnight no longer cancels it for a GTC
# one (that cancel, pending, left no live stop).
DAYTRADE_OPEN_AFTER_THE_CLOSE = [
    ("cancel_behavior", {"mode": "pending", "seconds": 30}),
    ("new_trade", {"symbol": "MSFT", "side": "BUY", "style": "DAYTRADE", "marketable": True,
                   "qty": 1}),
    ("job", {"job": "executor", "mode": "bracket"}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
    ("to_close", {}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
]

# R10, a bracket (fixed): at the flatten time its target is cancelled first (the group's
# stop goes with it at the broker); while that cancel is pending the stop stays live.
FLATTEN_A_BRACKET_WITH_ITS_CANCEL_PENDING = [
    ("cancel_behavior", {"mode": "pending", "seconds": 30}),
    ("new_trade", {"symbol": "MSFT", "side": "BUY", "style": "DAYTRADE", "marketable": True,
                   "qty": 1}),
    ("job", {"job": "executor", "mode": "bracket"}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
    ("to_flatten", {}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
]

# R8 (safety review; fixed in engine/entry_rest.py): a staged DAYTRADE entry fills 3
# of 11. The plain stop would be a wash trade against the entry's rest, so the rest is
# cancelled first; the cancel is pending and the rest fills meanwhile ("filled 11 while being
# cancelled"). The run ended there, 11 shares with no stop until the next cycle; now the
# cancel's final word (filled) is acted on in the same run: a stop for the 11.
STAGED_ENTRY_FILLS_WHILE_ITS_REST_IS_CANCELLED = [
    ("cancel_behavior", {"mode": "pending", "seconds": 30}),
    ("partial_fills", {"ratio": "0.3", "symbol": "AAPL"}),
    ("new_trade", {"symbol": "AAPL", "side": "BUY", "style": "DAYTRADE", "marketable": True,
                   "qty": 11}),
    ("job", {"job": "executor", "mode": "staged"}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
]

# R8, the cancel still pending (fixed in engine/entry_rest.py): the entry's rest does
# not fill (the market moved away) and its cancel stays pending past CANCEL_SETTLE_SECONDS;
# the 3 filled shares are protected by an OCO (exempt from the wash-trade rule) meanwhile.
STAGED_ENTRY_REST_CANCEL_PENDING = [
    ("cancel_behavior", {"mode": "pending", "seconds": 600}),
    ("partial_fills", {"ratio": "0.3", "symbol": "AAPL"}),
    ("new_trade", {"symbol": "AAPL", "side": "BUY", "style": "DAYTRADE", "marketable": False,
                   "qty": 11}),
    ("job", {"job": "executor", "mode": "staged"}),
    ("price_step", {"pct": -1.5, "symbol": "AAPL"}),
    ("price_step", {"pct": 1.5, "symbol": "AAPL"}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
    ("minutes", {"n": 5}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
]


@pytest.mark.parametrize("steps", [STAGED_ENTRY_FILLS_WHILE_ITS_REST_IS_CANCELLED,
                                   STAGED_ENTRY_REST_CANCEL_PENDING],
                         ids=["r8-rest-fills-while-cancelled", "r8-rest-cancel-pending"])
def test_r8_staged_entry_partly_filled_is_protected_in_the_run(new_world, steps):
    with new_world() as w:
        w.tolerate = set()
        w.replay(steps)


# OWN-EXIT (found by the model's invariant "the books never hold more than the broker";
# fixed in engine/settle.py settle_booked_exits, called by cycle.py): at 15:50 the
# flatten's market exit of a DAYTRADE fills at once and is booked as a fill, but the trade
# stayed POSITION with its 4 shares until the next order-monitor cycle while the broker held
# none. It is now closed in the same run. (Shrunk from one where the first exit was refused.)
FLATTEN_EXIT_BOOKED_BUT_THE_POSITION_KEPT = [
    ("cancel_behavior", {"mode": "immediate", "seconds": 30}),
    ("new_trade", {"symbol": "MSFT", "side": "BUY", "style": "DAYTRADE", "marketable": True,
                   "qty": 4}),
    ("job", {"job": "executor", "mode": "bracket"}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
    ("to_flatten", {}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
]

# RESIZE (found by the --slow run, seed 13; shrunk by hand from 15 steps; fixed in
# domain/top_up.py and domain/trade_state.py): a staged SWING short fills 1 of 5 and is
# protected by an OCO for 1; the rest fills; the order monitor cancelled that OCO to place one
# for 5, the cancel was pending, and the run ended with 4 shares unprotected. Now the OCO for
# 1 stays and a second OCO protects the 4 (Alpaca takes it: the first holds only its 1).
RESIZE_WITH_THE_OLD_PROTECTIONS_CANCEL_PENDING = [
    ("cancel_behavior", {"mode": "pending", "seconds": 30}),
    ("partial_fills", {"symbol": "NVDA", "ratio": "0.3"}),
    ("new_trade", {"symbol": "NVDA", "side": "SELL", "style": "SWING", "marketable": True,
                   "qty": 5}),
    ("job", {"job": "executor", "mode": "staged"}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
    ("minutes", {"n": 1}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
]

# R3 (a partial close by hand): the trader cancels our stop and sells 4 of 10; the order
# monitor protects the 6 the broker holds and, while the books still say 10, sends nothing
# more (nothing is cancelled: the 6 stay covered) until reconciliation books the close. The
# checker asked cover for the books' 10 (more than any order can hold); it asks the broker's 6.
PARTIAL_CLOSE_BY_HAND = [
    ("cancel_behavior", {"mode": "pending", "seconds": 30}),
    ("new_trade", {"symbol": "AAPL", "side": "BUY", "style": "SWING", "marketable": True,
                   "qty": 10}),
    ("job", {"job": "executor", "mode": "staged"}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
    ("cancel_stop_by_hand", {"symbol": "AAPL"}),
    ("trader_order", {"symbol": "AAPL", "side": "sell", "qty": 4, "kind": "market"}),
    ("minutes", {"n": 5}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
    ("minutes", {"n": 1}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
]

# THE TRADER'S OWN SHARES ON THE OTHER SIDE (found by the 60-minute --slow run, seed
# 20261207, shrunk by hypothesis to 14 steps, 4 kept): our resting short entry of 5, the
# trader buys 1 himself, then our entry fills: the broker nets -4 and our bracket's legs buy
# 5. Not a defect: they close our 5 and leave his 1 (R4: a fill before ours is his own). The
# harness's "closing orders within the broker" now allows for that (World
# _traders_own_before_ours); it still counts a close by hand after our fill as ours.
THE_TRADERS_OWN_SHARES_ON_THE_OTHER_SIDE = [
    ("cancel_behavior", {"mode": "pending", "seconds": 30}),
    ("new_trade", {"symbol": "MSFT", "side": "SELL", "style": "SWING", "marketable": False,
                   "qty": 5}),
    ("job", {"job": "executor", "mode": "bracket"}),
    ("trader_order", {"kind": "market", "qty": 1, "side": "buy", "symbol": "MSFT"}),
    ("between_reads", {"pct": 1.5, "ratio": None, "symbol": "MSFT"}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
]

# ... and when our entry fills only partly against the trader's own 5 bought before it (the
# second 60-minute run, seed 20261207, 4 steps): the broker nets 3 long, "the other side of
# ours". The checker's live_stop now takes the trader's own shares from before our fills into
# account there too (invariants/broker_checks.py); a close by hand after them still counts.
THE_TRADERS_OWN_SHARES_NET_OURS_AWAY = [
    ("cancel_behavior", {"mode": "pending", "seconds": 30}),
    ("new_trade", {"symbol": "MSFT", "side": "SELL", "style": "SWING", "marketable": False,
                   "qty": 5}),
    ("job", {"job": "executor", "mode": "bracket"}),
    ("trader_order", {"kind": "market", "qty": 5, "side": "buy", "symbol": "MSFT"}),
    ("between_reads", {"pct": 1.5, "ratio": "0.5", "symbol": "MSFT"}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
]

# EXIT-AFTER-HAND-CLOSE (found by the --slow run, seed 20261207, in 44 steps; shrunk by hand;
# fixed in engine/protect.py): the trader closes our position by hand (our bracket's
# legs go with it) and the positions lag 3 s. The order monitor re-protects from its books;
# Alpaca refuses the OCO ("insufficient qty available … available: 0"), and the emergency
# exit, capped only by the lagging positions (still 7), sold 7: the account was 7 short. The
# exit is now capped by what the refusal says is available too.
EXIT_AFTER_A_CLOSE_BY_HAND_WITH_LAGGING_POSITIONS = [
    ("new_trade", {"symbol": "AAPL", "side": "BUY", "style": "SWING", "marketable": True,
                   "qty": 7}),
    ("job", {"job": "executor", "mode": "bracket"}),
    ("minutes", {"n": 1}),
    ("close_by_hand", {"symbol": "AAPL"}),
    ("position_lag", {"seconds": 3}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
]


# R10 (safety review; fixed in engine/flatten.py): at the flatten time the plain stop
# of a staged DAYTRADE, the only order holding its shares, must go before its market exit
# (Alpaca's held-shares rule); its cancel is pending for 30 s. The run ended with the stop on
# its way out and no exit; now it follows the cancel to its final word and sends the exit at
# once, in the same run, while the session is open.
FLATTEN_WITH_THE_STOPS_CANCEL_PENDING = [
    ("cancel_behavior", {"mode": "pending", "seconds": 30}),
    ("new_trade", {"symbol": "MSFT", "side": "BUY", "style": "DAYTRADE", "marketable": True,
                   "qty": 1}),
    ("job", {"job": "executor", "mode": "staged"}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
    ("to_flatten", {}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
]


def test_r10_the_flatten_follows_its_stops_pending_cancel_and_exits(new_world):
    with new_world() as w:
        w.tolerate -= {"R10-LONG"}
        w.replay(FLATTEN_WITH_THE_STOPS_CANCEL_PENDING)
        assert [(o["order_type"], o["status"]) for o in w.ex.control.orders()
                if o["side"] == "sell"] == [("stop", "canceled"), ("market", "filled")]
        assert w.ex.control.state()["positions"] == []


# EMERGENCY-EXIT (found by the model; fixed in engine/protect.py and
# position_monitor/cycle.py): a DAYTRADE short of 1; its bracket's DAY stop expires over a
# holiday, the new stop is refused (403 forbidden) and the emergency market exit fills at
# once. The order monitor recorded the exit as "new" (its submit answer) and ended; the
# position monitor's sync then booked the fill but only the order monitor closes trades: the
# books held -1 while the broker held 0. Now the order monitor follows the exit to its fill
# and closes the trade in the same run, and the position monitor closes any trade whose exit
# its sync booked (settle_booked_exits).
EMERGENCY_EXIT_FILLED_BUT_THE_POSITION_KEPT = [
    ("cancel_behavior", {"mode": "pending", "seconds": 30}),
    ("new_trade", {"marketable": False, "qty": 1, "side": "SELL", "style": "DAYTRADE",
                   "symbol": "MSFT"}),
    ("job", {"job": "executor", "mode": "bracket"}),
    ("refuse", {"how": "forbidden", "symbol": "AAPL"}),
    ("between_reads", {"pct": 3.5, "ratio": None, "symbol": "MSFT"}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
    ("holiday", {}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
    ("job", {"job": "position_monitor", "mode": "bracket"}),
]


# R10-LONG (the rest of R10; fixed in engine/end_of_day.py flatten_now, called by
# cycle.py and listener.py): the stop's cancel pending for 600 s at the flatten time, longer
# than the flatten follows it (STOP_CANCEL_WAIT_SECONDS, 60). Alpaca takes no other closing
# order for shares a stop holds, so the run ends with the stop pending cancel: it still
# protects (it may fill until the cancel is final; the harness's _flatten_follows_its_stop).
# Once final, the exit goes at once (the stream, or the next run in the session), with no
# stop put back to be cancelled again; final only at the close, the next run puts a GTC stop
# back (the _AT_THE_CLOSE steps, checked by live_stop and the overnight-GTC rule).
FLATTEN_WITH_THE_STOPS_CANCEL_PENDING_LONG = [
    ("cancel_behavior", {"mode": "pending", "seconds": 600}),
    ("new_trade", {"symbol": "MSFT", "side": "BUY", "style": "DAYTRADE", "marketable": True,
                   "qty": 1}),
    ("job", {"job": "executor", "mode": "staged"}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
    ("to_flatten", {}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
]
FLATTEN_WITH_THE_STOPS_CANCEL_PENDING_LONG_AT_THE_CLOSE = [
    *FLATTEN_WITH_THE_STOPS_CANCEL_PENDING_LONG,
    ("job", {"job": "order_monitor", "mode": "staged"}),
    ("minutes", {"n": 10}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
]


# ... and final within the session (300 s): the next run sends the exit at once, with no stop
# put back first (before the fix it placed a second stop, which the flatten then had to cancel
# again, pending as long: the run ended with no exit once more).
FLATTEN_WITH_THE_STOPS_CANCEL_FINAL_IN_THE_SESSION = [
    ("cancel_behavior", {"mode": "pending", "seconds": 300}),
    *FLATTEN_WITH_THE_STOPS_CANCEL_PENDING_LONG[1:],
    ("minutes", {"n": 5}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
]


def test_r10_long_the_exit_goes_once_the_stops_cancel_is_final(new_world):
    with new_world() as w:
        w.replay(FLATTEN_WITH_THE_STOPS_CANCEL_FINAL_IN_THE_SESSION)
        assert [(o["order_type"], o["status"]) for o in w.ex.control.orders()
                if o["side"] == "sell"] == [("stop", "canceled"), ("market", "filled")]
        assert w.ex.control.state()["positions"] == []
        [j] = w.rows("SELECT status, exit_reason_code FROM trade_journal")
        assert (j["status"], j["exit_reason_code"]) == ("CLOSED", "EOD_FLATTEN")


# RESTING-COVER (found by the 60-minute --slow run, seed 20261207, commit 7127ff2: "after
# reconciliation AAPL: tables -11, broker 0"; shrunk by hand from 89 steps; fixed in
# engine/flatten.py FOLLOWED and position_monitor/cycle.py): a DAYTRADE short of 11
# still open after the close gets a GTC buy stop, which Alpaca holds as a stop-limit; the
# next morning a gap through its limit leaves it triggered and resting, and the position
# monitor covers at market (RESTING_STOP_ACTION=close). The cover filled at once, but the
# run recorded it as "new" and ended: the books held -11, the broker 0, until the next run.
# Now the position monitor follows its market exits (a resting stop's cover, an approved
# target's) to their fill and closes the trade in the same run.
RESTING_STOP_COVER_FILLED_BUT_THE_POSITION_KEPT = [
    ("new_trade", {"symbol": "AAPL", "side": "SELL", "style": "DAYTRADE", "marketable": True,
                   "qty": 11}),
    ("job", {"job": "executor", "mode": "bracket"}),
    ("to_close", {}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
    ("overnight", {}),
    ("price_step", {"symbol": "AAPL", "pct": 8.0}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
    ("job", {"job": "position_monitor", "mode": "bracket"}),
]


# Found by the model (seed 20261208, a real bug, fixed in engine/market_stop.py): the trader's
# own shares, adopted by the pre-open run before any fresh price existed, got no stop price
# ("no current price ... left alone, UNPROTECTED"), and nothing priced it later: the order
# monitor in the session left the EXTERNAL trade with no stop all day. Every settle now
# prices a missing stop from the market once a fresh price exists.
ADOPTED_BEFORE_THE_OPEN_WITH_NO_PRICE = [
    ("trader_order", {"symbol": "NVDA", "side": "buy", "qty": 2, "kind": "marketable"}),
    ("job", {"job": "pre_open", "mode": "bracket"}),
    ("corporate_action", {"symbol": "MSFT", "split": "1-for-2", "legs_follow": False}),
    ("job", {"job": "pre_open", "mode": "bracket"}),
    ("to_flatten", {}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
]

# The tenth 60-minute run (seed 20261209, d6581ff; 68 steps shrunk to 6): the trader's own
# AAPL, adopted in a halt (nothing prints): left alone with an ALERT, as R9 says, until a
# print; the harness had asked a stop of it. Once the halt lifts and AAPL prints, the next
# settle prices and places the stop (the checker asks for it then).
ADOPTED_IN_A_HALT = [
    ("trader_order", {"kind": "market", "qty": 6, "side": "buy", "symbol": "AAPL"}),
    ("job", {"job": "pre_open", "mode": "staged", "crash": "after_trail_submit"}),
    ("halt_symbol", {"on": True, "symbol": "AAPL"}),
    ("to_flatten", {}),
    ("job", {"job": "position_monitor", "mode": "bracket"}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
    ("halt_symbol", {"on": False, "symbol": "AAPL"}),
    ("minutes", {"n": 1}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
]

# The eleventh 60-minute run (seed 20261210, 0e4c64d; 80 steps shrunk to 6): a DAYTRADE left
# open overnight (its DAY legs expired), the trader closes it by hand, positions lag 3 s:
# the order monitor's new stop was sized on the lagging positions (5) and would have sold
# shares that were gone. The trader's own fill since our first one now caps it (none sent).
A_STOP_SIZED_ON_LAGGING_POSITIONS_AFTER_A_HAND_CLOSE = [
    ("new_trade", {"symbol": "AAPL", "side": "BUY", "style": "DAYTRADE", "marketable": True,
                   "qty": 5}),
    ("job", {"job": "executor", "mode": "bracket"}),
    ("overnight", {}),
    ("position_lag", {"seconds": 3}),
    ("close_by_hand", {"symbol": "AAPL"}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
]

# The twelfth 60-minute run (seed 20261209, 0e4c64d; 64 steps shrunk to 7): the trader's own
# share bought beside our resting SWING entry was a "lagging fill of our entry" to
# reconciliation for as long as the entry worked: never adopted, never stopped.
THE_TRADERS_SHARE_BESIDE_OUR_RESTING_ENTRY = [
    ("new_trade", {"symbol": "AAPL", "side": "BUY", "style": "SWING", "marketable": False,
                   "qty": 5}),
    ("job", {"job": "executor", "mode": "bracket"}),
    ("trader_order", {"kind": "marketable", "qty": 1, "side": "buy", "symbol": "AAPL"}),
    ("job", {"job": "position_monitor", "mode": "staged"}),
    ("minutes", {"n": 30}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
    ("job", {"job": "position_monitor", "mode": "bracket"}),
]

# The thirteenth 60-minute run (seed 20261209, 6865b82; 23 steps shrunk to 7), a harness
# statement: the trader sells 4 short by hand beside our short of 5; our feed read caught 1
# of his 4 (the rest filled between the feed read and the order read), so the checker took
# 3 of his shares for ours. Our 5 are stopped; his wait for reconciliation's grace.
THE_TRADERS_ORDER_FILLING_BETWEEN_OUR_READS = [
    ("new_trade", {"symbol": "AAPL", "side": "SELL", "style": "SWING", "marketable": False,
                   "qty": 5}),
    ("job", {"job": "executor", "mode": "bracket"}),
    ("between_reads", {"pct": 1.5, "ratio": "0.3", "symbol": "AAPL"}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
    ("trader_order", {"kind": "market", "qty": 4, "side": "sell", "symbol": "AAPL"}),
    ("between_reads", {"pct": -1.5, "ratio": None, "symbol": "AAPL"}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
]

# The fourteenth 60-minute run (seed 20261210, 6865b82; 80 steps shrunk to 9): at the
# end-of-day flatten the trader had just closed our DAYTRADE by hand and positions lagged:
# the flatten's exit was sized on them (5) and would have sold 5 that were gone. Every
# closing order is now capped by engine/protect.lag_safe (flatten, kill switch, stop).
A_FLATTEN_SIZED_ON_LAGGING_POSITIONS_AFTER_A_HAND_CLOSE = [
    ("new_trade", {"symbol": "AAPL", "side": "BUY", "style": "DAYTRADE", "marketable": True,
                   "qty": 5}),
    ("job", {"job": "executor", "mode": "bracket"}),
    ("to_flatten", {}),
    ("refuse", {"how": "held", "symbol": "MSFT"}),
    ("refuse", {"how": "held", "symbol": "AAPL"}),
    ("position_lag", {"seconds": 3}),
    ("close_by_hand", {"symbol": "AAPL"}),
    ("trader_order", {"kind": "marketable", "qty": 2, "side": "buy", "symbol": "NVDA"}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
]

# The fifteenth 60-minute run (seed 20261209, 64d2852; 50 steps shrunk to 5), a harness
# statement: the trader's 8 MSFT adopted after the close had only a print of hours before
# (the harness printed on clock moves inside the session only), so R9 rightly left them
# alone. `to_close` now prints at the close, as a market does; they are stopped.
ADOPTED_AFTER_THE_CLOSE = [
    ("trader_order", {"kind": "market", "qty": 8, "side": "buy", "symbol": "MSFT"}),
    ("job", {"job": "position_monitor", "mode": "bracket"}),
    ("to_close", {}),
    ("job", {"job": "position_monitor", "mode": "bracket"}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
]


# The sixteenth 60-minute run (seed 20261210, e58878c; 81 steps shrunk to 8): the trader's
# market close of our overnight DAYTRADE filled 1 of 5 before our feed read and the rest
# between that read and our order read; positions lagged 3 s. The cap knew 1 share gone and
# a stop for 4 went out while the broker held 0. What his partly filled order still worked
# (the fill's leaves_qty) now counts as gone too: no stop is sent.
A_STOP_WHILE_THE_TRADERS_CLOSE_FILLS_BETWEEN_OUR_READS = [
    ("new_trade", {"symbol": "AAPL", "side": "BUY", "style": "DAYTRADE", "marketable": True,
                   "qty": 5}),
    ("job", {"job": "executor", "mode": "bracket"}),
    ("overnight", {}),
    ("partial_fills", {"ratio": "0.3", "symbol": "AAPL"}),
    ("close_by_hand", {"symbol": "AAPL"}),
    ("position_lag", {"seconds": 3}),
    ("between_reads", {"pct": 3.5, "ratio": None, "symbol": "MSFT"}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
]

# The seventeenth 60-minute run (seed 20261211, 200d0af; 82 steps, shrunk by hand to 7), a
# harness statement: `to_close` from a closed market moved to the next session's close with
# no print in that whole session, so the trader's shares adopted after it had only Friday's
# print, too old to price a stop from (R9 rightly left them alone, with its ALERT). A move
# over a session now prints at its close, as a market does: they are stopped.
ADOPTED_AFTER_A_SESSION_WITH_NO_RUN = [
    ("trader_order", {"kind": "market", "qty": 3, "side": "buy", "symbol": "NVDA"}),
    ("to_close", {}),
    ("to_close", {}),
    ("job", {"job": "position_monitor", "mode": "bracket"}),
    ("minutes", {"n": 5}),
    ("job", {"job": "position_monitor", "mode": "bracket"}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
]

# The eighteenth 60-minute run (seed 20261212, 200d0af; 66 steps, shrunk by hand to 8): a
# short of 12 through a 3-for-2 (18) and a 1-for-3: our books and the exchange both took
# 18 × the rounded 1/3, 5.999…: "books -5.000…, broker -4.999…". Shares are now scaled
# multiplied before divided (Announcement.scale, the exchange's too): 6, as at Alpaca.
A_SHORT_THROUGH_TWO_SPLITS = [
    ("new_trade", {"symbol": "AAPL", "side": "SELL", "style": "SWING", "marketable": True,
                   "qty": 12}),
    ("job", {"job": "executor", "mode": "bracket"}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
    ("corporate_action", {"symbol": "AAPL", "split": "3-for-2", "legs_follow": False}),
    ("job", {"job": "pre_open", "mode": "staged"}),
    ("corporate_action", {"symbol": "AAPL", "split": "1-for-3", "legs_follow": False}),
    ("job", {"job": "pre_open", "mode": "staged"}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
]

# The nineteenth 60-minute run (seed 20261213, f127095; 45 steps shrunk by hand to 7), a
# harness statement: the trader's resting sell of 8 MSFT holds 8 of our DAYTRADE's 11 shares.
# At the flatten our exit is refused; the stop put back for 11 is refused ("available: 3"),
# the 3 are sold, and a stop for the 8 is refused too ("available: 0"). Alpaca holds those
# shares for his order; the system alerts and never cancels his order.
SHARES_HELD_FOR_THE_TRADERS_OWN_SELL = [
    ("trader_order", {"kind": "resting", "qty": 8, "side": "sell", "symbol": "MSFT"}),
    ("new_trade", {"symbol": "MSFT", "side": "BUY", "style": "DAYTRADE", "marketable": True,
                   "qty": 11}),
    ("job", {"job": "executor", "mode": "bracket"}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
    ("to_flatten", {}),
    ("refuse", {"how": "forbidden", "symbol": "MSFT"}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
]

# The twentieth 60-minute run (seed 20261214, 2d3e811; 45 steps shrunk by hand to 11), a
# harness statement: at the flatten our DAYTRADE short's bracket cancel was pending; the run
# went on (the other trade's refused exit, its cancel-settle waits moving the clock) and the
# cancel went final before it ended. The exit goes at once on the stream in the daemon, here
# on the next run, which the check then holds it to (the last step: flat).
A_FLATTEN_CANCEL_FINAL_LATER_IN_THE_RUN = [
    ("cancel_behavior", {"mode": "pending", "seconds": 30}),
    ("new_trade", {"symbol": "MSFT", "side": "SELL", "style": "DAYTRADE", "marketable": True,
                   "qty": 5}),
    ("job", {"job": "executor", "mode": "bracket"}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
    ("new_trade", {"symbol": "AAPL", "side": "SELL", "style": "DAYTRADE", "marketable": True,
                   "qty": 4}),
    ("job", {"job": "executor", "mode": "staged"}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
    ("to_flatten", {}),
    ("refuse", {"how": "forbidden", "symbol": "AAPL"}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
]

# The twenty-first 60-minute run (seed 20261216, 10b29ba; 74 steps shrunk by hand to 6), a
# harness statement: a 1-for-2 reverse split paid our 1 share in cash; its bracket legs were
# left at qty 1 (legs_follow False). The pre-open run closed the trade and cancelled them;
# the broker held the cancel pending. Nothing more can be asked of it.
A_CASHED_OUT_TRADES_LEGS_CANCEL_PENDING = [
    ("new_trade", {"symbol": "MSFT", "side": "BUY", "style": "SWING", "marketable": True,
                   "qty": 1}),
    ("job", {"job": "executor", "mode": "bracket"}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
    ("cancel_behavior", {"mode": "pending", "seconds": 600}),
    ("corporate_action", {"symbol": "MSFT", "split": "1-for-2", "legs_follow": False}),
    ("job", {"job": "pre_open", "mode": "bracket"}),
]

# The twenty-third 60-minute run (seed 20261218, 565dea4; 21 steps shrunk by hand to 5, and
# cycles after): our resting buy of 20 fills after a gap down, below its own planned stop;
# the OCO is refused (the stop must be below the market) and the market exit too, as a wash
# trade against the trader's resting buy. It was left with neither. Now an OCO (exempt from
# the wash-trade rule) with its stop EMERGENCY_STOP_PCT below the market protects it.
A_GAPPED_ENTRY_BESIDE_THE_TRADERS_RESTING_BUY = [
    ("new_trade", {"marketable": False, "qty": 20, "side": "BUY", "style": "SWING",
                   "symbol": "AAPL"}),
    ("gap", {"symbol": "AAPL", "up": False}),
    ("trader_order", {"kind": "resting", "qty": 3, "side": "buy", "symbol": "AAPL"}),
    ("job", {"job": "executor", "mode": "staged"}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
    ("minutes", {"n": 5}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
    ("job", {"job": "position_monitor", "mode": "staged"}),
]

@pytest.mark.parametrize("steps", [LAGGING_POSITIONS_AFTER_A_PARTIAL_FILL,
                                   CLOSE_BY_HAND_IN_PIECES,
                                   DAYTRADE_OPEN_AFTER_THE_CLOSE,
                                   FLATTEN_A_BRACKET_WITH_ITS_CANCEL_PENDING,
                                   EXIT_AFTER_A_CLOSE_BY_HAND_WITH_LAGGING_POSITIONS,
                                   FLATTEN_EXIT_BOOKED_BUT_THE_POSITION_KEPT,
                                   RESIZE_WITH_THE_OLD_PROTECTIONS_CANCEL_PENDING,
                                   PARTIAL_CLOSE_BY_HAND,
                                   THE_TRADERS_OWN_SHARES_ON_THE_OTHER_SIDE,
                                   THE_TRADERS_OWN_SHARES_NET_OURS_AWAY,
                                   EMERGENCY_EXIT_FILLED_BUT_THE_POSITION_KEPT,
                                   FLATTEN_WITH_THE_STOPS_CANCEL_PENDING_LONG,
                                   FLATTEN_WITH_THE_STOPS_CANCEL_PENDING_LONG_AT_THE_CLOSE,
                                   RESTING_STOP_COVER_FILLED_BUT_THE_POSITION_KEPT,
                                   ADOPTED_BEFORE_THE_OPEN_WITH_NO_PRICE, ADOPTED_IN_A_HALT,
                                   A_STOP_SIZED_ON_LAGGING_POSITIONS_AFTER_A_HAND_CLOSE,
                                   THE_TRADERS_SHARE_BESIDE_OUR_RESTING_ENTRY,
                                   THE_TRADERS_ORDER_FILLING_BETWEEN_OUR_READS,
                                   A_FLATTEN_SIZED_ON_LAGGING_POSITIONS_AFTER_A_HAND_CLOSE,
                                   ADOPTED_AFTER_THE_CLOSE,
                                   A_STOP_WHILE_THE_TRADERS_CLOSE_FILLS_BETWEEN_OUR_READS,
                                   ADOPTED_AFTER_A_SESSION_WITH_NO_RUN,
                                   A_SHORT_THROUGH_TWO_SPLITS,
                                   SHARES_HELD_FOR_THE_TRADERS_OWN_SELL,
                                   A_FLATTEN_CANCEL_FINAL_LATER_IN_THE_RUN,
                                   A_CASHED_OUT_TRADES_LEGS_CANCEL_PENDING,
                                   A_GAPPED_ENTRY_BESIDE_THE_TRADERS_RESTING_BUY],
                         ids=["lagging-positions", "close-by-hand-in-pieces",
                              "daytrade-open-after-the-close", "flatten-a-bracket",
                              "exit-after-a-close-by-hand", "own-exit", "resize",
                              "partial-close-by-hand", "the-traders-own-shares",
                              "the-traders-own-shares-net-ours-away",
                              "emergency-exit", "r10-long", "r10-long-at-the-close",
                              "resting-cover", "adopted-with-no-price", "adopted-in-a-halt",
                              "stop-on-lagging-positions-after-a-hand-close",
                              "traders-share-beside-our-resting-entry",
                              "traders-order-filling-between-our-reads",
                              "flatten-on-lagging-positions-after-a-hand-close",
                              "adopted-after-the-close",
                              "stop-while-the-traders-close-fills-between-our-reads",
                              "adopted-after-a-session-with-no-run",
                              "a-short-through-two-splits",
                              "shares-held-for-the-traders-own-sell",
                              "flatten-cancel-final-later-in-the-run",
                              "cashed-out-trades-legs-cancel-pending",
                              "gapped-entry-beside-the-traders-resting-buy"])
def test_found_sequences_hold(new_world, steps):
    with new_world() as w:
        w.replay(steps)


# -- known defects the model found, not fixed yet -------------------------------------------
# Each replays with the tolerance off (World.tolerate empty), so it fails on the invariant
# the state machine only reports; xfail(strict=True): the fix makes it pass, which fails
# the suite until its KNOWN_OPEN entry (tests/model/harness.py) and this mark go.

KNOWN_OPEN_REPLAYS: dict[str, list] = {}


def test_every_known_open_defect_has_a_replay():
    assert set(KNOWN_OPEN_REPLAYS) == set(KNOWN_OPEN)


@pytest.mark.parametrize("defect", [
    pytest.param(d, marks=pytest.mark.xfail(strict=True, raises=InvariantBroken,
                                            reason=f"{d}: {KNOWN_OPEN[d]}"))
    for d in sorted(KNOWN_OPEN_REPLAYS)])
def test_known_open_defect_replays(new_world, defect):
    with new_world() as w:
        w.tolerate = set()
        w.replay(KNOWN_OPEN_REPLAYS[defect])


# Issue 21's market rules, as sequences that hold: a split of a held SWING position applied
# overnight, seen by the pre-open run or only by a later cycle (its activity), the legs'
# qty adjusted by the broker or not; then the open and a gap through the restated stop.
# And a halt during which the price gaps through the stop, the elected stop cancelled at
# the reopen, the order monitor then re-protecting what is left.
def split_then_gap(split: str, legs_follow: bool, seen_by: str, mode: str) -> list:
    return [
        ("new_trade", {"symbol": "AAPL", "side": "BUY", "style": "SWING", "marketable": True,
                       "qty": 7}),
        ("job", {"job": "executor", "mode": mode}),
        ("job", {"job": "order_monitor", "mode": mode}),
        ("corporate_action", {"symbol": "AAPL", "split": split, "legs_follow": legs_follow}),
        ("job", {"job": seen_by, "mode": mode}),
        ("job", {"job": "order_monitor", "mode": mode}),
        ("overnight", {}),
        ("job", {"job": "order_monitor", "mode": mode}),
        ("job", {"job": "position_monitor", "mode": mode}),
        ("gap", {"symbol": "AAPL", "up": False}),
        ("job", {"job": "order_monitor", "mode": mode}),
        ("job", {"job": "position_monitor", "mode": mode}),
    ]


@pytest.mark.parametrize("split,legs_follow,seen_by,mode", [
    ("2-for-1", True, "pre_open", "bracket"), ("1-for-3", False, "position_monitor", "staged"),
    ("3-for-2", False, "pre_open", "staged"), ("1-for-2", True, "position_monitor", "bracket")])
def test_a_split_overnight_holds(new_world, split, legs_follow, seen_by, mode):
    with new_world() as w:
        w.replay(split_then_gap(split, legs_follow, seen_by, mode))
        (j,) = w.rows("SELECT status, exit_reason_code FROM trade_journal")
        assert (j["status"], j["exit_reason_code"]) == ("CLOSED", "STOPPED_OUT")
        assert w.ex.control.state()["positions"] == []


# SPLIT-ALL-CASH, fixed (issue 21's market rules found it): 1 share held through a 1-for-2
# reverse split; the exchange pays the half share in cash and the position is gone. The
# pre-open run took the empty answer beside our live stop for a broker fault and skipped the
# cycle: the trade stayed open with 1 share the broker did not hold. Now the due split
# explains it: the trade closes on the cash in lieu and its legs go (cancelled by the broker
# when their qty follows the split below one share, or by us when they are left, as here).
# With the fix off every case below fails: the legs left break "our closing orders within
# the broker's position", the legs cancelled leave the trade closed EXTERNAL unnamed.
REVERSE_SPLIT_PAYS_THE_WHOLE_POSITION = [
    ("new_trade", {"symbol": "AAPL", "side": "BUY", "style": "SWING", "marketable": True,
                   "qty": 1}),
    ("job", {"job": "executor", "mode": "bracket"}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
    ("corporate_action", {"symbol": "AAPL", "split": "1-for-2", "legs_follow": False}),
    ("job", {"job": "pre_open", "mode": "bracket"}),
]


@pytest.mark.parametrize("legs_follow,seen_by,mode", [
    (True, "pre_open", "bracket"), (False, "pre_open", "bracket"),
    (False, "position_monitor", "staged"), (True, "position_monitor", "staged")])
def test_a_reverse_split_paying_the_whole_position_holds(new_world, legs_follow, seen_by,
                                                          mode):
    steps = [(name, {**kw, **({"mode": mode} if "mode" in kw else {})})
             for name, kw in REVERSE_SPLIT_PAYS_THE_WHOLE_POSITION]
    steps[3] = ("corporate_action", {**steps[3][1], "legs_follow": legs_follow})
    steps[4] = ("job", {"job": seen_by, "mode": mode})
    with new_world() as w:
        w.tolerate = set()
        w.replay(steps + [("job", {"job": "order_monitor", "mode": mode}), ("overnight", {}),
                          ("job", {"job": "order_monitor", "mode": mode}),
                          ("job", {"job": "position_monitor", "mode": mode})])
        (j,) = w.rows("SELECT status, exit_reason_code, exit_reason FROM trade_journal")
        assert (j["status"], j["exit_reason_code"]) == ("CLOSED", "EXTERNAL")
        assert j["exit_reason"].startswith("cash in lieu: AAPL: reverse split")
        assert w.ex.control.state()["positions"] == []
        assert not [o for o in w.ex.control.orders() if o["status"] in ("new", "held")]


# A short's reverse split seen only after its stop fired (found by an 8-minute --slow run):
# 5 NVDA short, 1-for-2 overnight with the legs' qty following, no pre-open run; the broker
# holds -2 and debits the half share as cash in lieu (Alpaca: no fractional shorts), and the
# bracket stop, DNR at its pre-split price, covers the 2 at the open. The next cycle
# restated the trade from its net 5 - 2 = 3 (old and new shares mixed), found the broker's
# 0 "neither 3 nor 1.5" and left the books at -3. Now only the fills from before the split
# are restated: 2.5, the 0.5 paid in cash, the 2 covered: CLOSED, P&L 0.00 (5 sold at
# 131.95 = 659.75; 2 at 263.90 and 0.5 in cash at 263.90). With the fix off (corporate_apply
# before_and_since) it fails: "the books hold more than the broker: NVDA books -3".
SHORT_REVERSE_SPLIT_AFTER_ITS_STOP_FIRED = [
    ("new_trade", {"symbol": "NVDA", "side": "SELL", "style": "SWING", "marketable": False,
                   "qty": 5}),
    ("job", {"job": "executor", "mode": "bracket"}),
    ("price_step", {"pct": 1.5, "symbol": "NVDA"}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
    ("corporate_action", {"symbol": "NVDA", "split": "1-for-2", "legs_follow": True}),
    ("overnight", {}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
    ("job", {"job": "position_monitor", "mode": "bracket"}),
]

# As the model found it, with its other symbols' noise: the pre-open run of the day after.
SHORT_REVERSE_SPLIT_FOUND = [
    ("cancel_behavior", {"mode": "pending", "seconds": 30}),
    ("new_trade", {"symbol": "NVDA", "side": "SELL", "style": "SWING", "marketable": False,
                   "qty": 5}),
    ("job", {"job": "executor", "mode": "bracket"}), ("minutes", {"n": 5}),
    ("minutes", {"n": 5}), ("job", {"job": "position_monitor", "mode": "bracket"}),
    ("minutes", {"n": 5}), ("between_reads", {"pct": 1.5, "ratio": None, "symbol": "AAPL"}),
    ("price_step", {"pct": -1.5, "symbol": "AAPL"}),
    ("price_step", {"pct": -1.5, "symbol": "AAPL"}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
    ("job", {"job": "position_monitor", "mode": "bracket"}),
    ("price_step", {"pct": 1.5, "symbol": "NVDA"}), ("minutes", {"n": 5}),
    *[step for _ in range(4) for step in (
        ("to_flatten", {}), ("refuse", {"how": "forbidden", "symbol": "AAPL"}),
        ("job", {"job": "order_monitor", "mode": "bracket"}))],
    ("corporate_action", {"symbol": "NVDA", "split": "1-for-2", "legs_follow": True}),
    ("overnight", {}), ("to_close", {}), ("price_step", {"pct": -1.5, "symbol": "MSFT"}),
    ("corporate_action", {"symbol": "AAPL", "split": "1-for-2", "legs_follow": False}),
    ("job", {"job": "pre_open", "mode": "bracket"}),
]


def test_a_short_reverse_split_after_its_stop_fired_holds(new_world):
    with new_world() as w:
        w.tolerate = set()
        w.replay(SHORT_REVERSE_SPLIT_AFTER_ITS_STOP_FIRED)
        (j,) = w.rows("SELECT status, exit_reason_code, actual_pnl, actual_qty, "
                      "actual_entry_price FROM trade_journal")
        assert (j["status"], j["exit_reason_code"]) == ("CLOSED", "STOPPED_OUT")
        assert (j["actual_qty"], j["actual_entry_price"]) == (Decimal("2.5"), Decimal("263.9"))
        assert j["actual_pnl"] == 0
        fills = w.rows("SELECT side, qty, price, alpaca_order_id LIKE 'cil:%%' AS cil "
                       "FROM fills ORDER BY filled_at")
        assert [(f["side"], f["qty"], f["price"], f["cil"]) for f in fills] == [
            ("sell", Decimal("2.5"), Decimal("263.9"), False),
            ("buy", Decimal("0.5"), Decimal("263.9"), True),
            ("buy", Decimal("2"), Decimal("263.9"), False)]
        assert w.ex.control.state()["positions"] == []


def test_the_found_short_reverse_split_holds(new_world):
    with new_world() as w:
        w.tolerate = set()
        w.replay(SHORT_REVERSE_SPLIT_FOUND)
        (j,) = w.rows("SELECT status FROM trade_journal WHERE symbol = 'NVDA'")
        assert j["status"] == "CLOSED"


HALT_GAPS_THROUGH_THE_STOP = [
    ("new_trade", {"symbol": "NVDA", "side": "BUY", "style": "SWING", "marketable": True,
                   "qty": 6}),
    ("job", {"job": "executor", "mode": "staged"}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
    ("halt_symbol", {"symbol": "NVDA", "on": True, "tradable_flips": True,
                     "cancel_elected": True}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
    ("minutes", {"n": 5}),
    ("price_step", {"symbol": "NVDA", "pct": -8.0}),
    ("halt_symbol", {"symbol": "NVDA", "on": False, "tradable_flips": True,
                     "cancel_elected": True}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
    ("job", {"job": "position_monitor", "mode": "staged"}),
]


def test_a_halt_gapping_through_the_stop_holds(new_world):
    with new_world() as w:
        w.replay(HALT_GAPS_THROUGH_THE_STOP)


# Found by the model (a real bug, fixed in engine/queries.sql `last_fills_of_symbol`): a short
# stopped out in the same second as a new short's entry filled in part, while positions
# lagged. The stop's fill counted as "something else traded the symbol", so protection was
# capped by the lagging positions (0) and the new short had no stop after the run. A trade of
# ours whose fills net to zero no longer counts: within the grace our fills prove the shares.
OUR_CLOSED_TRADE_IN_THE_SAME_SECOND = [
    ("new_trade", {"marketable": True, "qty": 17, "side": "SELL", "style": "SWING",
                   "symbol": "MSFT"}),
    ("job", {"job": "executor", "mode": "bracket"}),
    ("between_reads", {"pct": 3.5, "ratio": "0.3", "symbol": "MSFT"}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
    ("position_lag", {"seconds": 30}),
    ("between_reads", {"pct": -1.5, "ratio": "0.5", "symbol": "MSFT"}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
    ("new_trade", {"symbol": "MSFT", "side": "SELL", "style": "DAYTRADE", "marketable": True,
                   "qty": 4}),
    ("job", {"job": "executor", "mode": "staged"}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
]


def test_a_short_is_stopped_while_positions_lag_our_closed_trade(new_world):
    with new_world() as w:
        w.replay(OUR_CLOSED_TRADE_IN_THE_SAME_SECOND)
        [short] = w.rows("SELECT id, actual_qty FROM trade_journal WHERE status = 'POSITION'")
        [position] = w.ex.control.state()["positions"]
        assert Decimal(position["qty"]) == -short["actual_qty"] == Decimal(-2)
        stops = [o for o in w.ex.control.orders() if o["order_type"] in ("stop", "stop_limit")
                 and o["side"] == "buy" and o["status"] in ("new", "accepted")
                 and o["client_order_id"].startswith("tm-")]
        assert [Decimal(o["qty"]) for o in stops] == [Decimal(2)]


# THE TRADER'S SHORT AFTER OUR ADOPTED TRADE (found by the 60-minute --slow run, seed
# 20261207, 40 steps; shrunk by hand; fixed in position_monitor/hand_closes.py close_flipped
# and reconcile.py): the trader's own 9 NVDA, adopted as EXTERNAL, closed by hand, then he
# sells 4 more: the broker holds 4 short. Reconciliation took that as a QTY_MISMATCH of our
# long (9 against -4) forever: the trade stayed open, the short never had a stop, and entries
# halted. Our trade is now closed at the trader's fills (MANUAL) and the short adopted and
# stopped once it has outlasted the grace. Within the grace the short is the trader's
# (harness: World._theirs_pending), as for any position of his own.
THE_TRADERS_SHORT_AFTER_OUR_ADOPTED_TRADE = [
    ("trader_order", {"symbol": "NVDA", "side": "buy", "qty": 9, "kind": "market"}),
    ("minutes", {"n": 5}),
    ("job", {"job": "position_monitor", "mode": "staged"}),
    ("minutes", {"n": 5}),
    ("job", {"job": "position_monitor", "mode": "staged"}),
    ("close_by_hand", {"symbol": "NVDA"}),
    ("trader_order", {"symbol": "NVDA", "side": "sell", "qty": 4, "kind": "market"}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
    ("minutes", {"n": 2}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
    ("job", {"job": "position_monitor", "mode": "staged"}),
    ("minutes", {"n": 2}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
    ("job", {"job": "position_monitor", "mode": "staged"}),
    ("job", {"job": "order_monitor", "mode": "staged"}),
]


def test_the_traders_short_after_our_adopted_trade_is_adopted_and_stopped(new_world):
    with new_world() as w:
        w.replay(THE_TRADERS_SHORT_AFTER_OUR_ADOPTED_TRADE)
        trades = w.rows("SELECT id, side, status, actual_qty, exit_reason FROM trade_journal "
                        "ORDER BY id")
        assert [(t["side"], t["status"], t["actual_qty"]) for t in trades] == [
            ("buy", "CLOSED", Decimal(9)), ("sell", "POSITION", Decimal(4))]
        assert trades[0]["exit_reason"].startswith("MANUAL")
        [position] = w.ex.control.state()["positions"]
        assert Decimal(position["qty"]) == Decimal(-4)
        stops = [o for o in w.ex.control.orders() if o["order_type"] in ("stop", "stop_limit")
                 and o["side"] == "buy" and o["status"] in ("new", "accepted")
                 and o["client_order_id"].startswith("tm-")]
        assert [Decimal(o["qty"]) for o in stops] == [Decimal(4)]


# Found by the model (seed 20261209, shrunk from 54 steps; fixed in position_monitor/cycle.py
# run_position_cycle): a short's entry fills, a 3-for-2 split restates the position 5 → 7
# overnight (its bracket legs' qty staying 5), and the old target fills 5 new shares at the
# open. The pre-open run saw both fills in one sync and closed the trade on 5 = 5 before the
# split was applied: 2 shares were left at the broker with no stop and out of our books. The
# entry is now opened first, the split applied, then the exit settled: 2 held, stopped.
TARGET_FILLS_AT_THE_OPEN_AFTER_A_SPLIT = [
    ("new_trade", {"symbol": "NVDA", "side": "SELL", "style": "SWING", "marketable": False,
                   "qty": 5}),
    ("job", {"job": "executor", "mode": "bracket"}),
    ("price_step", {"pct": 1.5, "symbol": "NVDA"}),
    ("corporate_action", {"symbol": "NVDA", "split": "3-for-2", "legs_follow": False}),
    ("overnight", {}),
    ("job", {"job": "pre_open", "mode": "bracket", "crash": None}),
    ("job", {"crash": "after_claim", "job": "order_monitor", "mode": "staged"}),
]


# The same, with the order monitor at the open before any pre-open run (the seventh hour's
# open path): its settle held the close for the split instead of closing 5 = 5.
ORDER_MONITOR_BEFORE_THE_PRE_OPEN = [
    *TARGET_FILLS_AT_THE_OPEN_AFTER_A_SPLIT[:5],
    ("job", {"job": "order_monitor", "mode": "bracket", "crash": None}),
    ("job", {"job": "pre_open", "mode": "bracket", "crash": None}),
    ("job", {"job": "order_monitor", "mode": "bracket", "crash": None}),
]


# The eighth 60-minute run (seed 20261209, e36757d; 54 steps shrunk to 8 by delta
# debugging): the split's day passes with no run of ours (AAPL's split moves the clock a day
# on), so the first order-monitor run comes a day after the target filled: the split is not
# today's, and only Alpaca's SPLIT activity tells of it. The close was not held.
A_DAY_WITH_NO_RUN_AFTER_A_SPLIT = [
    *TARGET_FILLS_AT_THE_OPEN_AFTER_A_SPLIT[:4],
    ("corporate_action", {"symbol": "AAPL", "split": "3-for-2", "legs_follow": True}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
    ("job", {"job": "pre_open", "mode": "staged", "crash": "after_trail_submit"}),
    ("job", {"crash": "after_claim", "job": "order_monitor", "mode": "staged"}),
]


# The ninth 60-minute run (seed 20261209, ed94c3f; 54 steps shrunk to 10): the close held
# at the open, then no position-monitor run until the close: the hold ended after its 30
# minutes and the trade closed on 5 = 5 after all. A hold now lasts until the split is
# applied (an ALERT after 30 minutes instead).
HELD_UNTIL_THE_CLOSE = [
    *TARGET_FILLS_AT_THE_OPEN_AFTER_A_SPLIT[:5],
    ("job", {"job": "order_monitor", "mode": "bracket"}),
    ("to_close", {}),
    ("job", {"job": "order_monitor", "mode": "bracket"}),
    ("job", {"job": "pre_open", "mode": "bracket", "crash": None}),
    ("job", {"crash": "after_claim", "job": "order_monitor", "mode": "staged"}),
]


@pytest.mark.parametrize("steps", [TARGET_FILLS_AT_THE_OPEN_AFTER_A_SPLIT,
                                   ORDER_MONITOR_BEFORE_THE_PRE_OPEN,
                                   A_DAY_WITH_NO_RUN_AFTER_A_SPLIT, HELD_UNTIL_THE_CLOSE],
                         ids=["pre-open-first", "order-monitor-first", "a-day-with-no-run",
                              "held-until-the-close"])
def test_a_target_filled_at_the_open_after_a_split_leaves_the_rest_stopped(new_world, steps):
    with new_world() as w:
        w.replay(steps)
        [trade] = w.rows("SELECT status FROM trade_journal")
        assert trade["status"] == "POSITION"
        [position] = w.ex.control.state()["positions"]
        assert Decimal(position["qty"]) == Decimal(-2)
        stops = [o for o in w.ex.control.orders() if o["order_type"] in ("stop", "stop_limit")
                 and o["side"] == "buy" and o["status"] in ("new", "accepted")]
        assert [Decimal(o["qty"]) for o in stops] == [Decimal(2)]


def test_a_position_adopted_in_a_halt_is_stopped_once_it_prints(new_world):
    with new_world() as w:
        w.replay(ADOPTED_IN_A_HALT[:6])
        assert not [o for o in w.ex.control.orders() if o["order_type"] == "stop"
                    and o["status"] in ("new", "accepted")]  # left alone in the halt (R9)
        w.replay(ADOPTED_IN_A_HALT[6:])
        stops = [o for o in w.ex.control.orders() if o["order_type"] == "stop"
                 and o["side"] == "sell" and o["status"] in ("new", "accepted")]
        assert [Decimal(o["qty"]) for o in stops] == [Decimal(6)]
