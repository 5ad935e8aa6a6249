"""Staircase trailing stops (seed 000): at a gain step, the stop moves to a level.

Pure. Gains and levels are per cent of the entry price, in the position's favour (a short
mirrors a long). The stop never loosens, and a jump across two steps applies the higher one.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from trading_monitor.domain.decision import CENT, SUB_DOLLAR_TICK
from trading_monitor.domain.sides import Side, sign

DEFAULT_STEPS = "8:0,15:8,25:15"


@dataclass(frozen=True)
class Step:
    gain_pct: Decimal  # reached when the position is this far in the money
    stop_pct: Decimal  # the stop moves this far from the entry, in the money (0 = break-even)


def parse_steps(text: str) -> tuple[Step, ...]:
    """`8:0,15:8,25:15` → at +8% to break-even, at +15% to +8%, at +25% to +15%."""
    steps = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        gain, _, stop = part.partition(":")
        step = Step(Decimal(gain), Decimal(stop))
        if step.stop_pct >= step.gain_pct or step.gain_pct <= 0 or step.stop_pct < 0:
            raise ValueError(f"trailing step {part!r}: the stop must sit below the gain")
        steps.append(step)
    ordered = tuple(sorted(steps, key=lambda s: s.gain_pct))
    if any(b.stop_pct < a.stop_pct for a, b in zip(ordered, ordered[1:], strict=False)):
        raise ValueError("trailing steps must not move the stop back")
    return ordered


@dataclass(frozen=True)
class TrailMove:
    step: int  # 1-based index of the step reached
    stop_price: Decimal


def gain_pct(side: str, entry: Decimal, price: Decimal) -> Decimal:
    return (price - entry) * sign(side) / entry * 100


def trail(side: str, entry: Decimal, best_price: Decimal, steps: tuple[Step, ...],
          current_stop: Decimal | None, current_step: int) -> TrailMove | None:
    """The move due now, if any. `best_price` is the high-water mark (the low for a short)."""
    gain = gain_pct(side, entry, best_price)
    reached = [i for i, s in enumerate(steps, start=1) if gain >= s.gain_pct]
    if not reached or reached[-1] <= current_step:
        return None
    index = reached[-1]
    level = steps[index - 1].stop_pct / 100
    stop = _on_tick(entry * (1 + level * sign(side)), down=Side.of(side) is Side.BUY)
    if current_stop is not None and not _tighter(side, stop, current_stop):
        return None  # never loosen (the stop may already be past this level)
    return TrailMove(index, stop)


def _tighter(side: str, new: Decimal, old: Decimal) -> bool:
    return (new - old) * sign(side) > 0


def _on_tick(price: Decimal, *, down: bool) -> Decimal:
    tick = CENT if price >= 1 else SUB_DOLLAR_TICK
    return price.quantize(tick, rounding=ROUND_DOWN if down else ROUND_UP)
