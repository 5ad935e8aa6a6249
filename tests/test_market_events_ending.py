"""A security that ends while we hold it (issue 21): a worthless removal or a cash merger the
exchange applies at 04:00 New York on its date. The trade is closed at what the action paid
(REORG / MA activity: nothing, or the cash per share), not at the last price."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from tests.helpers import watch
from tests.test_market_events_splits import enter_and_trail, held, pre_open

D = Decimal
TUESDAY_PRE_OPEN = datetime(2026, 11, 24, 14, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("kind", "rate", "paid"), [("worthless_removal", None, D(0)),
                                                    ("cash_merger", "200", D(200))])
def test_a_position_the_action_ends_is_closed_at_what_it_paid(
        db, db_params, broker, settings, exchange, kind, rate, paid):
    jid = enter_and_trail(db, db_params, broker, settings, exchange, "AAPL", "180.00", 10,
                          "170.00", "220.00", "195.00")
    exchange.control.corporate_action(kind, "AAPL", ex_date="2026-11-24",
                                      **({"rate": rate} if rate else {}))
    exchange.control.set_clock(datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc))
    pre_open(db_params, broker, settings)  # the ALERT the day before; stored
    exchange.control.set_clock(TUESDAY_PRE_OPEN)
    assert held(exchange) == {}
    pre_open(db_params, broker, settings)
    exchange.control.advance(120)
    watch(db_params, broker, settings)
    j = db.get_by_id("trade_journal", jid)
    assert (j["status"], j["exit_reason_code"]) == ("CLOSED", "EXTERNAL"), j
    assert (j["exit_price"], j["actual_pnl"]) == (paid, (paid - D(180)) * 10 - (j["fees"] or 0))
    (note,) = [e["message"] for e in db.query("event_log", {"entity": "trade_journal",
                                                             "entity_id": jid})
               if "gone at the broker" in (e["message"] or "")]
    assert f"{kind.replace('_', ' ')} (corporate action" in note, note
