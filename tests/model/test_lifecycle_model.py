"""The model-based test of the whole lifecycle (docs/reliability.md).

Hypothesis drives a running system through any order of what happens to it: n8n's
decisions, the market, the clock, the broker's faults, the trader's hands at the broker,
the jobs (sometimes killed at a crash point and run again), an operator's halt. After every
step `World.check` asserts the invariants. CI runs a fixed-seed budget; `--slow` thousands.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.model.harness import (
    FAULT_ENDPOINTS,
    FAULTS,
    REFUSALS,
    SPLITS,
    SYMBOLS,
    InvariantBroken,
    World,
    misreport_pending_cancel_as_canceled,
)
from trading_monitor.crashpoints import CRASH_POINTS

STALE = World.STALE

pytestmark = pytest.mark.model

CI_EXAMPLES, CI_STEPS = 40, 40
# --slow runs for a fixed time, not a count: MODEL_SLOW_MINUTES (default 60) of generating
# examples of up to 60 steps; the first example to end after that ends the run (BudgetSpent).
# A failure found before then is shrunk and reported as usual.
SLOW_EXAMPLES, SLOW_STEPS = 1_000_000, 60

symbols = st.sampled_from(SYMBOLS)
picks = st.integers(0, STALE - 1)  # a trade, by index: resting ones first
# The jobs, weighted as a scheduler runs them: the executor and the order monitor most.
jobs = st.sampled_from(["executor", "order_monitor", "position_monitor"])
modes = st.sampled_from(["bracket", "staged"])
crashes = st.sampled_from(sorted(CRASH_POINTS))
moves = st.sampled_from([-1.5, 1.5, -3.5, 3.5])
refusals = st.sampled_from(sorted(REFUSALS))
sides = st.sampled_from(["BUY", "SELL"])


def slow_minutes() -> float:
    return float(os.environ.get("MODEL_SLOW_MINUTES", "60"))


class BudgetSpent(BaseException):
    """The --slow budget's minutes are spent (a BaseException: hypothesis lets it through
    instead of taking it for a failure to shrink)."""


class Lifecycle(RuleBasedStateMachine):
    make_world: Any = None  # set by the test: a context manager factory of worlds
    until: float | None = None  # --slow: time.monotonic() at which generation stops
    failed = False  # an example failed: every later one (the shrinker's) runs

    def __init__(self) -> None:
        super().__init__()
        self._cm = type(self).make_world()
        self.world = self._cm.__enter__()

    def teardown(self) -> None:
        self._cm.__exit__(None, None, None)
        if Lifecycle.until is not None and time.monotonic() > Lifecycle.until \
                and not Lifecycle.failed:
            raise BudgetSpent  # once an example has run to its end

    def _do(self, name: str, **kw: Any) -> None:
        try:
            self.world.apply(name, **kw)
        except Exception:
            Lifecycle.failed = True
            raise

    # The day starts: cancels that take a while or not (Alpaca's often do), and a resting
    # entry n8n decided on earlier, already at the broker.
    @initialize(mode=st.sampled_from(["pending", "immediate"]), seconds=st.sampled_from([30, 600]),
                symbol=symbols, side=st.sampled_from(["BUY", "SELL"]))
    def the_day_starts(self, mode: str, seconds: int, symbol: str, side: str) -> None:
        self._do("cancel_behavior", mode=mode, seconds=seconds)
        self._do("new_trade", symbol=symbol, side=side, style="SWING", marketable=False, qty=5)
        self._do("job", job="executor", mode="bracket")

    # n8n writes a decision
    @rule(symbol=symbols, side=st.sampled_from(["BUY", "SELL"]),
          style=st.sampled_from(["SWING", "DAYTRADE"]), marketable=st.booleans(),
          qty=st.integers(1, 20))
    def new_trade(self, **kw: Any) -> None:
        self._do("new_trade", **kw)

    # NEW_TRADE is n8n's most common decision: twice the weight
    @rule(symbol=symbols, side=st.sampled_from(["BUY", "SELL"]),
          style=st.sampled_from(["SWING", "DAYTRADE"]), marketable=st.booleans(),
          qty=st.integers(1, 20))
    def new_trade_too(self, **kw: Any) -> None:
        self._do("new_trade", **kw)

    @precondition(lambda self: self.world.trades)
    @rule(pick=picks)
    def cancel(self, **kw: Any) -> None:
        self._do("cancel", **kw)

    @precondition(lambda self: self.world.trades)
    @rule(pick=picks, move=st.sampled_from(["0.005", "-0.005", "0.01"]))
    def amend(self, **kw: Any) -> None:
        self._do("amend", **kw)

    @rule(amend=st.booleans())
    def stale_decision(self, amend: bool) -> None:
        """A CANCEL or AMEND naming a trade that does not exist (any more)."""
        if amend:
            self._do("amend", pick=STALE, move="0.005")
        else:
            self._do("cancel", pick=STALE)

    @precondition(lambda self: self.world.trades)
    @rule(pick=picks, move=st.sampled_from(["0.005", "-0.005", "0.01"]))
    def amend_too(self, **kw: Any) -> None:
        self._do("amend", **kw)

    # n8n amends and the executor's next fire (every 2 minutes) takes it: the AMEND races
    # with whatever the broker is doing to the old entry (a pending cancel, a fill).
    @precondition(lambda self: self.world.trades)
    @rule(pick=picks, move=st.sampled_from(["0.005", "-0.005", "0.01"]), mode=modes)
    def amend_then_executor(self, pick: int, move: str, mode: str) -> None:
        self._do("amend", pick=pick, move=move)
        self._do("job", job="executor", mode=mode)

    # twice the weight: with the many rules of the market, the broker and the trader, the
    # CI budget must still line an AMEND up with a pending cancel (the switch test below)
    @precondition(lambda self: self.world.trades)
    @rule(pick=picks, move=st.sampled_from(["0.005", "-0.005", "0.01"]), mode=modes)
    def amend_then_executor_too(self, pick: int, move: str, mode: str) -> None:
        self.amend_then_executor(pick, move, mode)

    @rule(symbol=symbols)
    def no_action(self, **kw: Any) -> None:
        self._do("no_action", **kw)

    # the market moves
    @rule(symbol=symbols, pct=st.sampled_from([-1.5, 1.5, -0.5, 0.5, -3.5, 3.5]))
    def price_step(self, **kw: Any) -> None:
        self._do("price_step", **kw)

    @rule(symbol=symbols, up=st.booleans())
    def gap(self, **kw: Any) -> None:
        self._do("gap", **kw)

    @rule(symbol=symbols, ratio=st.sampled_from([None, "0.5", "0.3"]))
    def partial_fills(self, **kw: Any) -> None:
        self._do("partial_fills", **kw)

    # the clock moves: minutes, or to the close, overnight, over a weekend or a holiday
    @rule(move=st.sampled_from([5, 1, 30, 120, "to_flatten", "to_close", "overnight",
                                "weekend", "holiday"]))
    def clock(self, move: int | str) -> None:
        if isinstance(move, int):
            self._do("minutes", n=move)
        else:
            self._do(move)

    # the broker misbehaves
    @rule(endpoint=st.sampled_from(FAULT_ENDPOINTS), fault=st.sampled_from(sorted(FAULTS)))
    def fault(self, **kw: Any) -> None:
        self._do("fault", **kw)

    @rule(mode=st.sampled_from(["pending", "refuse", "immediate"]),
          seconds=st.sampled_from([30, 600, 0]))
    def cancel_behavior(self, **kw: Any) -> None:
        self._do("cancel_behavior", **kw)

    @rule(pick=picks)
    def reject(self, **kw: Any) -> None:
        self._do("reject", **kw)

    # Alpaca's positions lag its orders by seconds: every path meets it (a lag stays on
    # until a rule sets it off, so whatever runs next reads lagging positions).
    @rule(seconds=st.sampled_from([0, 3, 30]))
    def position_lag(self, **kw: Any) -> None:
        self._do("position_lag", **kw)

    # The market trades between the order monitor's two reads (the FILL feed, then the
    # orders): a partial fill the feed has not brought, or the rest of one it brought.
    @rule(symbol=symbols, pct=moves, ratio=st.sampled_from([None, "0.5"]))
    def between_reads(self, **kw: Any) -> None:
        self._do("between_reads", **kw)

    @rule(symbol=symbols, pct=moves, ratio=st.sampled_from([None, "0.5", "0.3"]), mode=modes)
    def order_monitor_with_fills_between_reads(self, mode: str, **kw: Any) -> None:
        self._do("between_reads", **kw)
        self._do("job", job="order_monitor", mode=mode)

    # Alpaca refuses an order for good (a 403, a 422): the next one sent.
    @rule(how=refusals, symbol=symbols)
    def refuse(self, **kw: Any) -> None:
        self._do("refuse", **kw)

    # The end-of-day flatten meets a refused exit (a halted symbol, held shares, a wash
    # trade, a plain 403): the position must keep its stop.
    @rule(how=refusals, symbol=symbols, mode=modes)
    def flatten_with_a_refused_exit(self, how: str, symbol: str, mode: str) -> None:
        self._do("to_flatten")
        self._do("refuse", how=how, symbol=symbol)
        self._do("job", job="order_monitor", mode=mode)

    # A DAYTRADE still open when the close passes (its exit refused, or no flatten ran).
    @rule(symbol=symbols, side=sides, qty=st.integers(1, 12), mode=modes,
          refused=st.sampled_from([None, *sorted(REFUSALS)]))
    def the_close_passes_with_a_daytrade(self, symbol: str, side: str, qty: int, mode: str,
                                         refused: str | None) -> None:
        self._do("new_trade", symbol=symbol, side=side, style="DAYTRADE", marketable=True,
                 qty=qty)
        self._do("job", job="executor", mode=mode)
        self._do("job", job="order_monitor", mode=mode)
        if refused is not None:
            self._do("to_flatten")
            self._do("refuse", how=refused, symbol=symbol)
            self._do("job", job="order_monitor", mode=mode)
        self._do("to_close")
        self._do("job", job="order_monitor", mode=mode)

    @rule(symbol=symbols, on=st.booleans())
    def halt_symbol(self, **kw: Any) -> None:
        self._do("halt_symbol", **kw)

    # A halt for some minutes (a job may run meanwhile), reopening at a price that may gap
    # through the stops; the broker may cancel a stop the reopening print elects.
    @rule(symbol=symbols, minutes=st.sampled_from([5, 30]),
          pct=st.sampled_from([None, -8.0, 8.0, -1.5]),
          job=st.sampled_from([None, "order_monitor", "position_monitor"]),
          flips=st.booleans(), cancel_elected=st.booleans(), mode=modes)
    def halt_then_resume(self, symbol: str, minutes: int, pct: float | None, job: str | None,
                         flips: bool, cancel_elected: bool, mode: str) -> None:
        self._do("halt_symbol", symbol=symbol, on=True, tradable_flips=flips,
                 cancel_elected=cancel_elected)
        if job is not None:
            self._do("job", job=job, mode=mode)
        self._do("minutes", n=minutes)
        if pct is not None:  # queued: the reopening print
            self._do("price_step", symbol=symbol, pct=pct)
        self._do("halt_symbol", symbol=symbol, on=False, tradable_flips=flips,
                 cancel_elected=cancel_elected)

    # A split announced for the next trading day, applied by the exchange overnight; the
    # clock moves to that day's pre-open, where the daemon's pre-open run may (or may not:
    # a cycle then finds it by its activity) run.
    @rule(symbol=symbols, split=st.sampled_from(sorted(SPLITS)), legs_follow=st.booleans(),
          pre_open=st.booleans(), mode=modes)
    def corporate_action(self, symbol: str, split: str, legs_follow: bool, pre_open: bool,
                         mode: str) -> None:
        self._do("corporate_action", symbol=symbol, split=split, legs_follow=legs_follow)
        if pre_open:
            self._do("job", job="pre_open", mode=mode)
        self._do("overnight")  # to the open: the model runs no order monitor before it

    @rule(mode=modes, crash=st.sampled_from([None, *sorted(CRASH_POINTS)]))
    def pre_open(self, mode: str, crash: str | None) -> None:  # the daemon runs it at start too
        self._do("job", job="pre_open", mode=mode, crash=crash)

    # the trader acts at the broker
    @rule(symbol=symbols)
    def close_by_hand(self, **kw: Any) -> None:
        self._do("close_by_hand", **kw)

    @rule(symbol=symbols)
    def cancel_stop_by_hand(self, **kw: Any) -> None:
        self._do("cancel_stop_by_hand", **kw)

    # The trader's own orders and fills in our symbols (client order ids not "tm-")
    @rule(symbol=symbols, side=st.sampled_from(["buy", "sell"]), qty=st.integers(1, 10),
          kind=st.sampled_from(["market", "resting", "marketable"]))
    def trader_order(self, **kw: Any) -> None:
        self._do("trader_order", **kw)

    @rule(symbol=symbols)
    def trader_cancel(self, **kw: Any) -> None:
        self._do("trader_cancel", **kw)

    # an operator
    @rule(on=st.sampled_from([False, True]))
    def halt(self, **kw: Any) -> None:
        self._do("halt", **kw)

    # a job runs, or is killed at a crash point and run again. Several rules per job: the
    # swarm (hypothesis disables a random subset of rules per example) rarely turns off all.
    @rule(mode=modes)
    def executor(self, mode: str) -> None:
        self._do("job", job="executor", mode=mode)

    @rule(mode=modes)
    def executor_again(self, mode: str) -> None:
        self._do("job", job="executor", mode=mode)

    @rule(mode=modes)
    def order_monitor(self, mode: str) -> None:
        self._do("job", job="order_monitor", mode=mode)

    @rule(mode=modes)
    def order_monitor_again(self, mode: str) -> None:
        self._do("job", job="order_monitor", mode=mode)

    @rule(mode=modes)
    def position_monitor(self, mode: str) -> None:
        self._do("job", job="position_monitor", mode=mode)

    @rule(job=jobs, mode=modes, crash=crashes)
    def crashed_job(self, **kw: Any) -> None:
        self._do("job", **kw)


class WithoutMarketEvents(Lifecycle):
    """The model without issue 21's market rules (plain methods are no rules): the switch
    test below keeps the draw it was tuned on."""

    def halt_then_resume(self, *a: Any, **kw: Any) -> None:  # type: ignore[override]
        raise NotImplementedError

    def corporate_action(self, *a: Any, **kw: Any) -> None:  # type: ignore[override]
        raise NotImplementedError

    def pre_open(self, *a: Any, **kw: Any) -> None:  # type: ignore[override]
        raise NotImplementedError


# hypothesis derives its fixed seed from the machine's name: keep the switch test's draw
WithoutMarketEvents.__name__ = WithoutMarketEvents.__qualname__ = "Lifecycle"


def budget(slow: bool, **extra: Any) -> settings:
    examples, steps = (SLOW_EXAMPLES, SLOW_STEPS) if slow else (CI_EXAMPLES, CI_STEPS)
    return settings(max_examples=examples, stateful_step_count=steps, derandomize=not slow,
                    deadline=None, database=None, print_blob=True,
                    suppress_health_check=list(HealthCheck), **extra)


def run_model(new_world: Any, slow: bool, machine: type[Lifecycle] = Lifecycle,
              **extra: Any) -> None:
    Lifecycle.make_world = new_world
    Lifecycle.failed = False
    Lifecycle.until = time.monotonic() + 60 * slow_minutes() if slow else None
    try:
        run_state_machine_as_test(machine, settings=budget(slow, **extra))
    except BudgetSpent:
        pass
    finally:
        Lifecycle.until = None


@pytest.mark.timeout(0)  # --slow spends MODEL_SLOW_MINUTES (an hour by default)
def test_the_lifecycle_model_holds_every_invariant(new_world: Any,
                                                   request: pytest.FixtureRequest) -> None:
    slow = bool(request.config.getoption("--slow"))
    started = time.monotonic()
    try:
        run_model(new_world, slow)
    finally:  # what the budget ran, failed or not (shown with -s; docs/reliability.md)
        budget_text = f"--slow, {slow_minutes():g} min budget" if slow else "CI budget"
        print(f"model: {World.stats['examples']} examples, {World.stats['steps']} steps "
              f"in {(time.monotonic() - started) / 60:.1f} min ({budget_text})")
    for key in sorted(k for k in World.stats if k.startswith((
            "known open", "between_reads", "trader", "refusal"))):
        print(f"model: {key}: {World.stats[key]}")


def test_the_ci_budget_finds_the_amend_double_entry(new_world: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """With the exchange's misreport on (a pending cancel read as canceled) the same budget
    finds two live entries for one decision. Not shrunk here: finding it is the point."""
    misreport_pending_cancel_as_canceled(monkeypatch)
    with pytest.raises(InvariantBroken, match="live entries at the exchange"):
        run_model(new_world, slow=False, machine=WithoutMarketEvents,
                  phases=[Phase.explicit, Phase.generate])
