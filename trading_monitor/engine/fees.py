"""Book Alpaca's FEE activities: one read per cycle, from a cursor (system_state `fee_cursor`).

How Alpaca links a correction or a cancellation to the fee it changes is not documented
(its changelog and the NonTradeActivity schema give the status values, executed, correct
and canceled, and nothing more), so both plausible ways are handled:

- **In place**: the fee's own activity, same id, shows `canceled` (or `correct` with a new
  amount). To see that, the cursor lags: it stays on the last activity older than
  REVIEW_DAYS, so each read brings every fee of the last few days again (one page, 100 fees,
  is one request) and a stored fee whose status or amount changed is re-booked.
- **As a new activity**: a `canceled` or `correct` activity with an id of its own replaces
  the latest fee still counting with the same order id (else symbol and day) and sub-type.

Writes go through the ledger (ledger/fees.py FeeBooks).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal

from trading_monitor.broker.base import Broker
from trading_monitor.broker.models import AccountActivity
from trading_monitor.db.connection import Row
from trading_monitor.domain.market_time import new_york_date
from trading_monitor.ledger import Ledger
from trading_monitor.ledger.fees import FeeFact
from trading_monitor.ledger.runs import log_event

CURSOR = "fee_cursor"
SINCE = "since "  # the cursor before any fee aged out of the review window
REVIEW_DAYS = 7  # how long a fee may still be corrected or cancelled in place
# FEE (regulatory and borrow fees) and the dividend family (a debit may be owed on a short)
DIVIDENDS = ("DIV", "DIVCGL", "DIVCGS", "DIVFEE", "DIVFT", "DIVNRA", "DIVROC", "DIVTW",
             "DIVTXEX")
TYPES = ("FEE", *DIVIDENDS)
BORROW = re.compile(r"borrow", re.IGNORECASE)
CANCELED, CORRECT = "canceled", "correct"


def book_fees(ledger: Ledger, broker: Broker) -> list[str]:
    """Read the FEE activities since the cursor, book what is new or changed, retry fees
    that found no fill yet, and bring trades' fees and P&L in line; what was done."""
    today = new_york_date(ledger.now())
    stored = _cursor(ledger)
    cursor = stored or SINCE + (ledger.now() - timedelta(days=REVIEW_DAYS)).isoformat()
    activities = _read(broker, cursor)  # before the transaction: no lock held on the wire
    done: list[str] = []
    with ledger.db.transaction():
        if stored is None:
            _set_cursor(ledger, cursor, "first FEE read: the review window before it")
        for a in activities:
            if _wanted(a):
                done += _book(ledger, _fact(a))
        for fee in ledger.fees_to_reallocate():
            if ledger.fee_targets(fee)[1]:  # else it stays as it is: nothing rewritten
                done.append(ledger.allocate_fee(fee))
        done += ledger.true_up_trade_fees()
        _move_cursor(ledger, activities, today - timedelta(days=REVIEW_DAYS))
    return done


def _fact(a: AccountActivity) -> FeeFact:
    return FeeFact(
        activity_id=a.id, status=(a.status or "executed").lower(),
        amount=-(a.net_amount or Decimal(0)), day=_day(a), symbol=a.symbol,
        alpaca_order_id=a.order_id, sub_type=a.sub_type, description=a.description,
        activity_type=a.activity_type, cost_kind=cost_kind(a))


def cost_kind(a: AccountActivity) -> str:
    """What an activity costs us for (issue 21; which types Alpaca uses is UNCONFIRMED):
    a FEE described as a borrow fee is `borrow`; a DIV debit is a dividend owed on a short
    (`short_dividend`); another dividend-family debit (DIVNRA: withholding on a dividend
    received, ...) is `unidentified`; any other FEE is `regulatory` (SEC, TAF)."""
    if a.activity_type == "FEE":
        return "borrow" if BORROW.search(a.description or "") else "regulatory"
    return "short_dividend" if a.activity_type == "DIV" else "unidentified"


def _wanted(a: AccountActivity) -> bool:
    """FEEs, and dividend-family debits only (a dividend received is no cost of ours)."""
    return a.activity_type == "FEE" or (a.net_amount is not None and a.net_amount < 0)


def _day(a: AccountActivity) -> date | None:
    if a.date:
        return date.fromisoformat(a.date[:10])
    return new_york_date(a.created_at) if a.created_at else None


def _book(ledger: Ledger, fee: FeeFact) -> list[str]:
    row = ledger.fee_row(fee.activity_id)
    if row is None:
        return _new(ledger, fee)
    if row["status"] == fee.status and row["amount"] == fee.amount:
        return []  # read again within the review window, unchanged
    # Changed in place: a cancellation reverses it, a correction re-books the new amount.
    effective = row["effective"] and fee.status != CANCELED
    row = ledger.update_fee(row, status=fee.status, amount=fee.amount, effective=effective)
    _note(ledger, row, f"fee {fee.activity_id} is now {fee.status} ({fee.amount})")
    if not effective:
        ledger.refresh_fee_fills(ledger.reverse_fee(row))
        return [f"fee {fee.activity_id} {fee.status}: reversed"]
    return [ledger.allocate_fee(row)]


def _new(ledger: Ledger, fee: FeeFact) -> list[str]:
    done: list[str] = []
    replaced = ledger.fee_predecessor(fee) if fee.status in (CANCELED, CORRECT) else None
    if replaced is not None:
        replaced = ledger.update_fee(replaced, effective=False)
        ledger.refresh_fee_fills(ledger.reverse_fee(replaced))
        verb = "cancelled" if fee.status == CANCELED else "replaced"
        _note(ledger, replaced, f"fee {replaced['activity_id']} {verb} by {fee.activity_id}")
        done.append(f"fee {replaced['activity_id']} {verb} by {fee.activity_id}: reversed")
    # A cancellation costs nothing of its own (found first already cancelled, or a notice).
    effective = fee.status != CANCELED
    row = ledger.store_fee(fee, effective,
                           replaced["activity_id"] if replaced is not None else None)
    if effective:
        done.append(ledger.allocate_fee(row))
    return done


def _note(ledger: Ledger, row: Row, text: str) -> None:
    log_event(ledger.db, ledger.run_id, "fee_activity", row["id"], "fee", text)


def _cursor(ledger: Ledger) -> str | None:
    rows = ledger.db.named("system_value", {"key": CURSOR})
    return str(rows[0]["value"]) if rows and rows[0]["value"] else None


def _read(broker: Broker, cursor: str) -> list[AccountActivity]:
    """From the cursor: an activity id once a fee has aged past the review window; before
    that the time of the first read less the window (fixed, so fees age out of it and the
    cursor becomes an id; a daemon stopped for weeks then still reads every fee since)."""
    if cursor.startswith(SINCE):
        return broker.account_activities(TYPES,
                                         after=datetime.fromisoformat(cursor[len(SINCE):]))
    return broker.account_activities(TYPES, last_id=cursor)


def _set_cursor(ledger: Ledger, value: str, reason: str) -> None:
    ledger.db.named_update("set_system_value", {"key": CURSOR, "value": value,
                                                "reason": reason})


def _move_cursor(ledger: Ledger, activities: list[AccountActivity], before: date) -> None:
    """Past the fees too old to change (ids grow with time); never back."""
    settled = [a.id for a in activities if (d := _day(a)) is not None and d < before]
    if settled:
        _set_cursor(ledger, max(settled), f"FEE activities read; those before {before} are "
                    "settled")
