"""Builders for the pure rules' inputs: one trade as `trade_state.decide` sees it, in a few
words per row (`position(10, stops=[stop(10)])`). Not collected: a library for tests/unit
and any test that states a trade as `decide` sees it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from trading_monitor.domain.lifecycle import OrderRole, Purpose, TradeStatus
from trading_monitor.domain.trade_state import Fill, OrderView, TradeState

D = Decimal
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)  # Monday, 10:00 New York
T0 = NOW - timedelta(minutes=30)  # when the entry filled
ENTRY_ID, STOP_ID, TAKE_ID, EXIT_ID = 1, 2, 3, 4

__all__ = ["D", "ENTRY_ID", "EXIT_ID", "NOW", "STOP_ID", "T0", "TAKE_ID", "entry_fill",
           "entry_order", "exit_fill", "market_exit", "position", "stop", "target", "trade"]


def entry_order(status: str = "filled", qty: int = 10, filled: int | None = None, *,
                order_class: str = "simple", limit: str = "181.00", side_buy: bool = True,
                expires_at: datetime | None = None) -> OrderView:
    return OrderView(ENTRY_ID, "tm-x-d1-entry", OrderRole.ENTRY, Purpose.ENTRY, status, D(qty),
                     D(qty if filled is None else filled), order_class, "day",
                     limit_price=D(limit), alpaca_order_id="b-entry",
                     entry_expires_at=expires_at)


def stop(qty: int = 10, price: str = "174.00", status: str = "new", *, row_id: int = STOP_ID,
         filled: int = 0, parent: int | None = None) -> OrderView:
    return OrderView(row_id, f"tm-x-d1-stop_loss-{row_id}", OrderRole.STOP_LOSS,
                     Purpose.PROTECTION, status, D(qty), D(filled), "simple", "gtc",
                     stop_price=D(price), parent_row_id=parent, alpaca_order_id=f"b-{row_id}")


def target(qty: int = 10, price: str = "195.00", status: str = "new", *,
           parent: int | None = None) -> OrderView:
    return OrderView(TAKE_ID, "tm-x-d1-take_profit", OrderRole.TAKE_PROFIT, Purpose.PROTECTION,
                     status, D(qty), D(0), "oco" if parent is None else "bracket", "gtc",
                     limit_price=D(price), parent_row_id=parent, alpaca_order_id=f"b-{TAKE_ID}")


def market_exit(qty: int = 10, status: str = "new",
                purpose: Purpose = Purpose.EOD_FLATTEN) -> OrderView:
    return OrderView(EXIT_ID, "tm-x-d1-exit", OrderRole.EXIT, purpose, status, D(qty), D(0),
                     "simple", "day", alpaca_order_id=f"b-{EXIT_ID}")


def entry_fill(qty: int = 10, price: str = "181.00", at: datetime = T0,
               fee: str = "0") -> Fill:
    return Fill("b-entry", OrderRole.ENTRY, Purpose.ENTRY, D(qty), D(price), at, D(fee))


def exit_fill(order: OrderView, qty: int = 10, price: str = "174.00",
              at: datetime = NOW - timedelta(minutes=1), fee: str = "0") -> Fill:
    assert order.alpaca_order_id is not None
    return Fill(order.alpaca_order_id, order.role, order.purpose, D(qty), D(price), at, D(fee))


def trade(status: TradeStatus = TradeStatus.POSITION, *, side: str = "buy",
          style: str = "DAYTRADE", mode: str = "staged", entry: OrderView | None = None,
          exits: tuple[OrderView, ...] | list[OrderView] = (), fills: tuple[Fill, ...] |
          list[Fill] = (), planned_entry: str | None = "181.00",
          planned_stop: str | None = "174.00", planned_take: str | None = "195.00",
          protected: bool = False, first_fill_at: datetime | None = None,
          booked: tuple[int, str] | None = None) -> TradeState:
    fills = tuple(fills)
    state = TradeState(1, status, side, style, mode,
                       D(planned_entry) if planned_entry else None,
                       D(planned_stop) if planned_stop else None,
                       D(planned_take) if planned_take else None,
                       first_fill_at, NOW if protected else None, entry, tuple(exits), fills)
    qty, avg = state.entry_filled
    if booked is not None:
        state = replace(state, booked=(D(booked[0]), D(booked[1])))
    elif status is TradeStatus.POSITION and avg is not None:
        state = replace(state, booked=(state.position_qty, avg))  # the books agree already
    return state


def position(qty: int = 10, price: str = "181.00", **kwargs: object) -> TradeState:
    """A position the books already hold: `qty` shares bought (sold short) at `price`."""
    kwargs.setdefault("entry", entry_order("filled", qty, limit=price))
    kwargs.setdefault("fills", (entry_fill(qty, price),))
    return trade(TradeStatus.POSITION, **kwargs)  # type: ignore[arg-type]
