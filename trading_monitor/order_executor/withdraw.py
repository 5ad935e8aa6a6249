"""Withdrawing an entry order, settled only on the broker's final word.

An order is withdrawn only when the broker says `canceled`, `expired` or `rejected`. A
`pending_cancel` can still fill, a refused cancel leaves the order live, and a `replaced`
order lives on as its successor (followed through `replaced_by`). What is not final
within a few seconds is UNSETTLED: the caller defers and looks again next cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from trading_monitor.broker.models import BrokerOrder
from trading_monitor.db.connection import Row
from trading_monitor.domain.lifecycle import (
    NOT_SENT,
    PENDING_SUBMIT,
    WITHDRAWN_ORDER_STATUSES,
    TradeStatus,
)
from trading_monitor.engine.cancelling import cancel_until_final, follow_replacements
from trading_monitor.order_executor.context import Executor


class Withdrawal(Enum):
    WITHDRAWN = "withdrawn"
    FILLED = "filled"
    PARTIAL = "partially filled"
    UNSETTLED = "not final yet"


@dataclass(frozen=True)
class WithdrawResult:
    outcome: Withdrawal
    order: BrokerOrder | None
    detail: str = ""

    @property
    def fill_text(self) -> str:
        o = self.order
        return "" if o is None else f"{o.filled_qty} of {o.qty} @ {o.filled_avg_price}"


def find_order(ex: Executor, entry: Row) -> BrokerOrder | None:
    """The broker's live embodiment of our entry row: by id, then through replacements."""
    if entry["alpaca_order_id"]:
        order = ex.broker.get_order(entry["alpaca_order_id"])
    else:
        order = ex.broker.get_order_by_client_id(entry["client_order_id"])
    return follow_replacements(ex.broker, order)


def withdraw(ex: Executor, entry: Row, why: str, *,
             cancelled_as: TradeStatus = TradeStatus.CANCELLED) -> WithdrawResult:
    """Cancel the entry at the broker (idempotently) and record what the broker says;
    `why` becomes the trade's exit reason if the entry ends withdrawn."""
    journal_id = int(entry["trade_journal_id"])
    if entry["order_status"] in WITHDRAWN_ORDER_STATUSES | {NOT_SENT}:
        _settle_trade(ex, journal_id, entry, cancelled_as, why)
        return _recorded(entry)
    order = find_order(ex, entry)
    if order is None:
        if entry["order_status"] != PENDING_SUBMIT:
            return WithdrawResult(Withdrawal.UNSETTLED, None,
                                  f"{entry['client_order_id']} is recorded as "
                                  f"{entry['order_status']} but the broker does not find it")
        ex.ledger.mark_orders([entry, *_legs(ex, entry)], NOT_SENT,
                              f"{why}; withdrawn before it reached the broker")
        ex.ledger.set_trade_status(journal_id, cancelled_as, why)
        return WithdrawResult(Withdrawal.WITHDRAWN, None, "never reached the broker")
    done = cancel_until_final(ex.broker, order, settle_seconds=ex.config.cancel_settle_seconds,
                              sleep=ex.sleep)
    ex.ledger.follow_entry(journal_id, entry, done.order, cancelled_as=cancelled_as, why=why)
    return _result(done.order, f"; {done.refused}" if done.refused else "")


def _result(order: BrokerOrder, refused: str) -> WithdrawResult:
    if order.status == "filled":
        return WithdrawResult(Withdrawal.FILLED, order)
    if order.status in WITHDRAWN_ORDER_STATUSES:
        kind = Withdrawal.PARTIAL if order.filled_qty > 0 else Withdrawal.WITHDRAWN
        return WithdrawResult(kind, order, order.status)
    return WithdrawResult(Withdrawal.UNSETTLED, order,
                          f"{order.client_order_id} is still {order.status} at the broker"
                          f"{refused}")


def _settle_trade(ex: Executor, journal_id: int, entry: Row, cancelled_as: TradeStatus,
                  why: str) -> None:
    """Another job recorded the entry's final status first (the order monitor's sync, the
    stream): a trade still PENDING on a fill-less withdrawn entry is withdrawn too, so an
    AMEND's old trade never stays open to be amended or cancelled a second time."""
    journal = ex.claims.get_by_id("trade_journal", journal_id)
    if journal is None or journal["status"] != TradeStatus.PENDING.value \
            or entry["filled_qty"] != 0:
        return
    entries = ex.claims.query("order_execution", {"trade_journal_id": journal_id,
                                                  "order_role": entry["order_role"]})
    if all(e["order_status"] in WITHDRAWN_ORDER_STATUSES | {NOT_SENT} for e in entries):
        ex.ledger.set_trade_status(journal_id, cancelled_as, why)  # no other entry lives


def _recorded(entry: Row) -> WithdrawResult:
    """Already final in our rows (the broker said so earlier): no request needed."""
    kind = Withdrawal.PARTIAL if entry["filled_qty"] > 0 else Withdrawal.WITHDRAWN
    return WithdrawResult(kind, None, str(entry["order_status"]))


def _legs(ex: Executor, entry: Row) -> list[Row]:
    return ex.claims.query("order_execution", {"parent_order_execution_id": entry["id"]})
