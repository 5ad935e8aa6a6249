"""The tradable universe: a dozen common symbols plus one listed-but-halted name."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

# A fixed namespace keeps asset ids identical across runs and seeds, like real asset ids.
_NAMESPACE = uuid.UUID("6f1c1c7e-2f43-4a55-9d3e-7c0d6d5a0b11")

DEFAULT_ASSETS: tuple[tuple[str, str, str], ...] = (
    ("AAPL", "NASDAQ", "Apple Inc. Common Stock"),
    ("MSFT", "NASDAQ", "Microsoft Corporation Common Stock"),
    ("NVDA", "NASDAQ", "NVIDIA Corporation Common Stock"),
    ("AMZN", "NASDAQ", "Amazon.com, Inc. Common Stock"),
    ("GOOGL", "NASDAQ", "Alphabet Inc. Class A Common Stock"),
    ("META", "NASDAQ", "Meta Platforms, Inc. Class A Common Stock"),
    ("TSLA", "NASDAQ", "Tesla, Inc. Common Stock"),
    ("SPY", "ARCA", "SPDR S&P 500 ETF Trust"),
    ("QQQ", "NASDAQ", "Invesco QQQ Trust, Series 1"),
    ("IWM", "ARCA", "iShares Russell 2000 ETF"),
    ("JPM", "NYSE", "JPMorgan Chase & Co. Common Stock"),
    ("AMD", "NASDAQ", "Advanced Micro Devices, Inc. Common Stock"),
    ("HALT", "NYSE", "Halted Holdings Inc. (listed, not tradable)"),
)
NOT_TRADABLE = frozenset({"HALT"})
# Alpaca's spec (2026-06-05) lists easy_to_borrow and hard_to_borrow. Most names are easy;
# the listed-but-halted one is hard, so a universe read shows both values.
EASY, HARD = "easy_to_borrow", "hard_to_borrow"
HARD_TO_BORROW = frozenset({"HALT"})


@dataclass(frozen=True)
class Asset:
    symbol: str
    exchange: str
    name: str
    tradable: bool
    borrow_status: str | None = EASY  # None: the field is absent (settable per symbol)

    @property
    def id(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, self.symbol))


def universe(extra_symbols: set[str]) -> dict[str, Asset]:
    assets = {s: Asset(s, ex, name, s not in NOT_TRADABLE, HARD if s in HARD_TO_BORROW else EASY)
              for s, ex, name in DEFAULT_ASSETS}
    for symbol in sorted(extra_symbols - set(assets)):
        assets[symbol] = Asset(symbol, "NASDAQ", f"{symbol} (scenario symbol)", True)
    return assets


def lookup(assets: dict[str, Asset], symbol_or_id: str) -> Asset | None:
    found = assets.get(symbol_or_id.upper())
    if found is not None:
        return found
    return next((a for a in assets.values() if a.id == symbol_or_id.lower()), None)
