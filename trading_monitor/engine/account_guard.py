"""The broker account is part of the books (issue 27).

system_state 'broker_account_id' holds the Alpaca account id (GET /v2/account `id`) the books
were written against; migration 0010 stamps it on every trade and snapshot row. Each job's
broker is wrapped in an `AccountGuard`: before the job's first broker call the account is
checked, and a different id than the books' refuses the job with a `AccountMismatch` (a
FatalError: the daemon stops and exits 2, naming both ids), an ALERT naming the fix, and a
'broker_account_mismatch' row that makes `health` CRITICAL. Nothing reaches an account the
books do not describe: not an order, not a cancel, not a reconciliation that would close
every trade.

Cost: the id an account's keys lead to never changes while a process runs (new keys need a
restart), so one GET /v2/account per broker object is enough; every later cycle compares
that id with the books' (a database read), and any cycle that reads the account anyway (the
position monitor, a busy executor) checks the fresh answer for free. The first trade-less
executor cycle still sends nothing.

The first job that meets an empty 'broker_account_id' records the id it finds (trust on first
use, an event_log row) and fills it into the rows written before it was known. Adopting a
different account is `trading-monitor reconcile --adopt-account ID --reason TEXT`.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import Any

from trading_monitor.broker.base import Broker
from trading_monitor.broker.models import BrokerAccount
from trading_monitor.db.connection import Row, TradingDB
from trading_monitor.exceptions import FatalError
from trading_monitor.ledger.alerts import alert
from trading_monitor.ledger.runs import log_event

log = logging.getLogger(__name__)
ACCOUNT_KEY = "broker_account_id"
MISMATCH_KEY = "broker_account_mismatch"
CURSOR_KEY = "fill_cursor"  # the order monitor's place in the broker's fill feed
# The account id each broker object last saw (keys never change under a running process).
_seen: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


class AccountMismatch(FatalError):
    """The broker's account is not the one the books were written against. The daemon exits
    with `exit_code` (daemon/fatal_exit.py); a one-shot job exits 1 like any fatal error."""

    exit_code = 2  # configuration: the systemd unit does not restart on it

    def __init__(self, books: str, broker: str):
        super().__init__(
            f"broker account {broker} is not the account the books were written against "
            f"({books}); every job refuses to trade or reconcile. Fix: put back the keys of "
            f"account {books}, or, if {broker} is now meant to be traded, run "
            f"`trading-monitor reconcile --adopt-account {broker} --reason TEXT`")
        self.books, self.broker = books, broker


def recorded_account(db: TradingDB) -> str | None:
    rows = db.named("system_value", {"key": ACCOUNT_KEY})
    return str(rows[0]["value"]) if rows and rows[0]["value"] else None


def verify(db: TradingDB, run_id: str, found: str) -> None:
    """Raises AccountMismatch unless `found` is the books' account (recorded on first use)."""
    books = recorded_account(db)
    if books is None:
        if found and not db.read_only:
            record_account(db, run_id, found, "first seen by a job: the books are this "
                                              "account's from now on")
        return
    if found == books:
        _clear_mismatch(db, run_id)
        return
    if not db.read_only:
        db.named_update("set_system_value", {
            "key": MISMATCH_KEY, "value": found,
            "reason": f"the broker's account {found} is not the books' {books}"})
    alert(log, "account_mismatch", f"{books} vs {found}",
          "broker account mismatch: the keys lead to account %s, the books were written "
          "against %s; every job refuses until the keys are put back or `trading-monitor "
          "reconcile --adopt-account %s --reason ...` adopts it", found, books, found)
    raise AccountMismatch(books, found)


def record_account(db: TradingDB, run_id: str, account_id: str, why: str) -> None:
    """The books' account from now on; rows written without one are stamped with it."""
    before = recorded_account(db)
    db.named_update("set_system_value", {"key": ACCOUNT_KEY, "value": account_id,
                                         "reason": why[:1000]})
    for query in ("stamp_account_on_trades", "stamp_account_on_snapshots"):
        db.named_update(query, {"account_id": account_id})
    log_event(db, run_id, "broker_account", None, "recorded",
              f"{ACCOUNT_KEY}: {why}", from_status=before, to_status=account_id)
    _clear_mismatch(db, run_id)
    log.warning("broker account %s recorded as the books' account (%s)", account_id, why)


def adopt_account(db: TradingDB, run_id: str, account_id: str, why: str) -> None:
    """The operator's `reconcile --adopt-account`: the books follow `account_id` from now on,
    and the fill feed is read afresh (the old account's cursor means nothing in the new
    account's feed: the next sync reads from our first order's time, as the first one did)."""
    record_account(db, run_id, account_id, why)
    rows = db.named("system_value", {"key": CURSOR_KEY})
    old = str(rows[0]["value"]) if rows and rows[0]["value"] else None
    db.named_update("set_system_value", {"key": CURSOR_KEY, "value": "",
                                         "reason": f"reset: account {account_id} adopted"})
    log_event(db, run_id, CURSOR_KEY, None, "reset",
              f"fill feed cursor reset: account {account_id} adopted ({why})"[:2000],
              from_status=old, to_status="")


def refusal(db: TradingDB, journal: Row | None = None) -> str | None:
    """Why an operator's action at the broker (kill-switch --flatten, approve-exit) must not
    go on: the last job found the keys leading to another account than the books', or
    `journal` was written against another account than the books' (adopted since)."""
    books = recorded_account(db)
    rows = db.named("system_value", {"key": MISMATCH_KEY})
    if books and rows and rows[0]["value"]:
        return str(AccountMismatch(books, str(rows[0]["value"])))
    return None if journal is None else held_elsewhere(db, journal)


def held_elsewhere(db: TradingDB, journal: Row) -> str | None:
    """Why no job or command acts on `journal`: it was written against another account than
    the books' (adopted since, `--leave-open-trades`); None when it is the books' own."""
    books = recorded_account(db)
    if not books or journal.get("broker_account_id") in (None, books):
        return None
    return (f"trade #{journal['id']} was written against broker account "
            f"{journal['broker_account_id']}, not the books' {books}: not touched (its shares "
            "are not in this account)")


def trades_held_elsewhere(db: TradingDB) -> list[Row]:
    """Open trades written against another account than the books': no job manages them."""
    return db.named("trades_held_elsewhere") if recorded_account(db) else []


def _clear_mismatch(db: TradingDB, run_id: str) -> None:
    rows = db.named("system_value", {"key": MISMATCH_KEY})
    if db.read_only or not rows or not rows[0]["value"]:
        return
    db.named_update("set_system_value", {"key": MISMATCH_KEY, "value": "",
                                         "reason": "the broker's account is the books' again"})
    log_event(db, run_id, "broker_account", None, "match",
              "the broker's account is the books' again", from_status=str(rows[0]["value"]))


class AccountGuard:
    """A broker that checks the account before its first call (see the module's text).

    `get_account` is answered once per cycle: the check's own read serves the job's."""

    def __init__(self, inner: Broker, check: Callable[[str], None]):
        self._inner, self._check = inner, check
        self._checked = False
        self._account: BrokerAccount | None = None

    def __repr__(self) -> str:
        return f"AccountGuard({self._inner!r})"

    @property
    def requests_sent(self) -> int:
        return self._inner.requests_sent

    def get_account(self) -> BrokerAccount:
        if self._account is None:
            self._account = self._inner.get_account()
            _seen[self._inner] = self._account.account_id
            self._checked = False  # a fresh answer is always checked
        self._ensure()
        return self._account

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name.startswith("_") or not callable(attr):
            return attr

        def checked(*args: Any, **kwargs: Any) -> Any:
            self._ensure()
            return attr(*args, **kwargs)
        return checked

    def _ensure(self) -> None:
        if self._checked:
            return
        if self._inner not in _seen:
            self.get_account()  # checks it
            return
        self._check(_seen[self._inner])
        self._checked = True


def guarded(db: TradingDB, broker: Broker, run_id: str) -> Broker:
    """`broker` for one cycle, checked against the books' account before any call."""
    guard = AccountGuard(broker, lambda found: verify(db, run_id, found))
    return guard  # a proxy: every Broker method, checked


def forget(broker: Broker) -> None:
    """Drop what this broker object last saw (tests that switch the exchange's account)."""
    _seen.pop(broker, None)
