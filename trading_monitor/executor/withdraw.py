"""Withdrawing an entry order, settled only on the broker's final word.

An order is withdrawn only when the broker says `canceled`, `expired` or `rejected`. A
`pending_cancel` can still fill, a refused cancel leaves the order live, and a `replaced`
order lives on as its successor (followed through `replaced_by`). What is not final
within a few seconds is UNSETTLED: the caller defers and looks again next cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from trading_monitor.broker.errors import NotFoundError
from trading_monitor.broker.models import BrokerOrder
from trading_monitor.crashpoints import crash_point
from trading_monitor.db_layer import Row
from trading_monitor.domain.lifecycle import (
    NOT_SENT,
    PENDING_SUBMIT,
    SETTLING_ORDER_STATUSES,
    WITHDRAWN_ORDER_STATUSES,
    TradeStatus,
)
from trading_monitor.exceptions import RejectedError
from trading_monitor.executor.context import Executor

MAX_REPLACEMENTS_FOLLOWED = 10
POLL_SECONDS = 0.25


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
    return follow_replacements(ex, order)


def follow_replacements(ex: Executor, order: BrokerOrder | None) -> BrokerOrder | None:
    for _ in range(MAX_REPLACEMENTS_FOLLOWED):
        if order is None or order.status != "replaced" or not order.replaced_by:
            return order
        order = ex.broker.get_order(order.replaced_by) or order
    return order


def withdraw(ex: Executor, entry: Row, why: str, *,
             cancelled_as: TradeStatus = TradeStatus.CANCELLED) -> WithdrawResult:
    """Cancel the entry at the broker (idempotently) and record what the broker says;
    `why` becomes the trade's exit reason if the entry ends withdrawn."""
    journal_id = int(entry["trade_journal_id"])
    if entry["order_status"] in WITHDRAWN_ORDER_STATUSES | {NOT_SENT}:
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
    refused = ""
    asked = not _final(order) and order.status not in SETTLING_ORDER_STATUSES
    if asked:
        try:
            ex.broker.cancel_order(order.id)
            crash_point("after_cancel")
        except NotFoundError:
            pass  # gone meanwhile (filled or cancelled): the read below tells which
        except RejectedError as exc:
            refused = f"; the broker refused the cancel: {exc}"
    order = _wait_for_final(ex, order, reread=asked, patient=not refused)
    ex.ledger.follow_entry(journal_id, entry, order, cancelled_as=cancelled_as, why=why)
    return _result(order, refused)


def _final(order: BrokerOrder) -> bool:
    return order.status in WITHDRAWN_ORDER_STATUSES or order.status == "filled"


def _wait_for_final(ex: Executor, order: BrokerOrder, *, reread: bool, patient: bool
                    ) -> BrokerOrder:
    """Read the order until its status is final, within CANCEL_SETTLE_SECONDS.

    A DELETE's 204 says nothing of the outcome, so a cancel we sent is always read back.
    """
    if reread:
        order = _reread(ex, order)
    waited = 0.0
    while patient and not _final(order) and waited < ex.config.cancel_settle_seconds:
        ex.sleep(POLL_SECONDS)
        waited += POLL_SECONDS
        order = _reread(ex, order)
    return order


def _reread(ex: Executor, order: BrokerOrder) -> BrokerOrder:
    return follow_replacements(ex, ex.broker.get_order(order.id)) or order


def _result(order: BrokerOrder, refused: str) -> WithdrawResult:
    if order.status == "filled":
        return WithdrawResult(Withdrawal.FILLED, order)
    if order.status in WITHDRAWN_ORDER_STATUSES:
        kind = Withdrawal.PARTIAL if order.filled_qty > 0 else Withdrawal.WITHDRAWN
        return WithdrawResult(kind, order, order.status)
    return WithdrawResult(Withdrawal.UNSETTLED, order,
                          f"{order.client_order_id} is still {order.status} at the broker"
                          f"{refused}")


def _recorded(entry: Row) -> WithdrawResult:
    """Already final in our rows (the broker said so earlier): no request needed."""
    kind = Withdrawal.PARTIAL if entry["filled_qty"] > 0 else Withdrawal.WITHDRAWN
    return WithdrawResult(kind, None, str(entry["order_status"]))


def _legs(ex: Executor, entry: Row) -> list[Row]:
    return ex.claims.query("order_execution", {"parent_order_execution_id": entry["id"]})
