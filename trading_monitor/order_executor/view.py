"""The account snapshot the pre-trade checks read, and the start-of-day record.

`read_account_view` only reads: four broker requests at most (account, positions, clock,
one batched market snapshot), made only when the first entry needs them, so a cycle with
nothing to trade costs none. `record_start_of_day` is the write, kept apart so a dry run
can leave it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from trading_monitor.broker.base import Broker
from trading_monitor.broker.models import BrokerAccount, BrokerPosition
from trading_monitor.db.connection import TradingDB
from trading_monitor.domain.decision import Action, DecisionInvalid, parse_decision
from trading_monitor.domain.market_time import new_york_date
from trading_monitor.domain.risk import AccountView, net_cash_flow
from trading_monitor.engine.halts import active_halt
from trading_monitor.engine.snapshots import has_snapshot, loss_baseline, record_snapshot, start_of

ON_WORDS = {"on", "true", "1", "yes", "halt", "halted"}


def halted_reason(db: TradingDB, account: BrokerAccount, trading_halted_setting: bool,
                  trading_day: date) -> str | None:
    if trading_halted_setting:
        return "TRADING_HALTED is set"
    halt = active_halt(db, trading_day)  # set by the position monitor's risk checks
    if halt:
        return halt
    switch = db.named("system_value", {"key": "kill_switch"})
    if switch and str(switch[0]["value"] or "").strip().lower() in ON_WORDS:
        return f"kill switch is on in system_state ({switch[0]['reason'] or 'no reason given'})"
    if account.trading_blocked or account.account_blocked:
        return "the broker has blocked trading on this account"
    return None


@dataclass(frozen=True)
class AccountReading:
    view: AccountView
    account: BrokerAccount
    positions: tuple[BrokerPosition, ...]


def read_account_view(db: TradingDB, broker: Broker, *, trading_halted: bool,
                      market_data: bool = True, feed: str = "iex", cash_flows: bool = False
                      ) -> AccountReading:
    """The account as the risk rules see it. `cash_flows`: read today's deposits and
    withdrawals (one request) so the daily loss leaves them out."""
    account = broker.get_account()
    positions = broker.get_positions()
    clock = broker.get_clock()
    # One batched request for every symbol still waiting to enter, not one per decision.
    market = broker.market_snapshots(pending_entry_symbols(db), feed) if market_data else {}
    trading_day = new_york_date(clock.timestamp)
    open_trades = db.named("open_trades")
    position_symbols = {p.symbol for p in positions}
    pending_exposure = sum(
        (abs(t["planned_qty"] * t["planned_entry_price"]) for t in open_trades
         if t["status"] == "PENDING" and t["symbol"] not in position_symbols
         and t["planned_qty"] is not None and t["planned_entry_price"] is not None),
        Decimal(0))
    symbols = position_symbols | {t["symbol"] for t in open_trades}
    closed = db.named("symbols_closed_since", {"since": start_of(trading_day)})
    view = AccountView(
        equity=account.equity,
        buying_power=account.buying_power,
        # Until today's row is written, the broker's last close stands in for it.
        start_of_day_equity=loss_baseline(db, trading_day, account, net_cash_flow(
            broker.cash_flows(trading_day)) if cash_flows else Decimal(0)),
        open_symbols=frozenset(symbols),
        open_count=len(symbols),
        exposure=_position_exposure(positions) + pending_exposure,
        closed_today=frozenset(r["symbol"] for r in closed),
        halted_reason=halted_reason(db, account, trading_halted, trading_day),
        market_open=clock.is_open,
        market=market,
        trading_day=trading_day,
        session_close=clock.next_close,
    )
    return AccountReading(view, account, tuple(positions))


def record_start_of_day(db: TradingDB, run_id: str, reading: AccountReading) -> None:
    """Today's start equity and seed 001's START snapshot, once per trading day."""
    day, account, positions = reading.view.trading_day, reading.account, reading.positions
    assert day is not None
    db.named_update("remember_start_equity", {"trading_day": day,
                                              "start_equity": account.last_equity,
                                              "run_id": run_id})
    if not has_snapshot(db, "START", day):
        record_snapshot(db, run_id, "START", day, account, positions)


def pending_entry_symbols(db: TradingDB) -> set[str]:
    symbols = set()
    for row in db.named("unexecuted_decisions"):
        try:
            d = parse_decision(row)
        except DecisionInvalid:
            continue
        if d.primary_action in (Action.NEW_TRADE, Action.AMEND):
            symbols.add(d.ticker)
    return symbols


def _position_exposure(positions: list[BrokerPosition]) -> Decimal:
    return sum((abs(p.market_value or p.qty * p.avg_entry_price) for p in positions), Decimal(0))
